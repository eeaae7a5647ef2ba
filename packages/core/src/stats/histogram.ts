/**
 * Fixed-bucket latency histograms. The bounds never change, so histograms from many gateways and many time windows
 * merge by adding counts (ServingWindow.latencyHist / ttftHist store exactly these counts).
 *
 * Bounds are upper bounds in milliseconds, growing by ~20% per bucket from 0.1 ms to ~10 min, which keeps the relative
 * error of any quantile under 10%. counts[i] holds values in (bounds[i-1], bounds[i]]; the last slot is the overflow.
 */
function makeBounds(): readonly number[] {
  const bounds: number[] = [];
  for (let b = 0.1; b < 600_000; b *= 1.2) bounds.push(Number(b.toPrecision(3)));
  return Object.freeze(bounds);
}

export const LATENCY_BUCKET_BOUNDS_MS: readonly number[] = makeBounds();
export const HISTOGRAM_SLOTS = LATENCY_BUCKET_BOUNDS_MS.length + 1;

export function emptyHistogram(): number[] {
  return new Array<number>(HISTOGRAM_SLOTS).fill(0);
}

export function bucketIndex(valueMs: number): number {
  const bounds = LATENCY_BUCKET_BOUNDS_MS;
  if (!(valueMs > bounds[0]!)) return 0;
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid]! >= valueMs) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function recordValue(hist: number[], valueMs: number, count = 1): void {
  const i = bucketIndex(valueMs);
  hist[i] = (hist[i] ?? 0) + count;
}

/** Adds b into a copy of a; shorter or missing arrays (older rows) count as zeros. */
export function mergeHistograms(...hists: readonly (readonly number[] | null | undefined)[]): number[] {
  const out = emptyHistogram();
  for (const h of hists) {
    if (!h) continue;
    for (let i = 0; i < h.length && i < out.length; i++) out[i]! += h[i]!;
  }
  return out;
}

export function histogramCount(hist: readonly number[]): number {
  let n = 0;
  for (const c of hist) n += c;
  return n;
}

/** Lower and upper edge of a slot, in ms; the overflow slot reports its lower edge twice. */
export function bucketRange(index: number): [number, number] {
  const bounds = LATENCY_BUCKET_BOUNDS_MS;
  const lower = index === 0 ? 0 : bounds[index - 1]!;
  const upper = index < bounds.length ? bounds[index]! : lower;
  return [lower, upper];
}

/**
 * The q-quantile (0..1) of a histogram, interpolating linearly inside the bucket that holds the rank.
 * Returns null for an empty histogram, so callers cannot mistake "no data" for "0 ms".
 */
export function histogramQuantile(hist: readonly number[], q: number): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const total = histogramCount(hist);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const [lower, upper] = bucketRange(i);
      const within = Math.max(0, rank - seen) / c;
      return lower + (upper - lower) * within;
    }
    seen += c;
  }
  const last = hist.length - 1;
  return bucketRange(last)[1];
}
