/** A point of a series; extra fields (step, wallTime, …) are carried through untouched. */
export interface TXYPoint {
  x: number;
  y: number;
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): keeps the first and last point and, per bucket, the point that
 * forms the largest triangle with the previously kept point and the next bucket's average. Preserves the visual shape
 * of a line chart far better than striding. Points must be sorted by x. Returns the input when it is already small.
 */
export function lttb<P extends TXYPoint>(points: readonly P[], threshold: number): P[] {
  const n = points.length;
  if (!Number.isFinite(threshold) || threshold < 3 || threshold >= n) return points.slice();
  const out: P[] = new Array(threshold);
  const bucketSize = (n - 2) / (threshold - 2);
  let a = 0;
  out[0] = points[0]!;
  for (let i = 0; i < threshold - 2; i++) {
    const nextStart = Math.floor((i + 1) * bucketSize) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * bucketSize) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += points[j]!.x;
      avgY += points[j]!.y;
    }
    const nextLen = nextEnd - nextStart;
    avgX /= nextLen;
    avgY /= nextLen;

    const start = Math.floor(i * bucketSize) + 1;
    const end = nextStart;
    const ax = points[a]!.x;
    const ay = points[a]!.y;
    let maxArea = -1;
    let chosen = start;
    for (let j = start; j < end; j++) {
      const p = points[j]!;
      // Twice the triangle area; the factor does not change which point wins.
      const area = Math.abs((ax - avgX) * (p.y - ay) - (ax - p.x) * (avgY - ay));
      if (area > maxArea) {
        maxArea = area;
        chosen = j;
      }
    }
    out[i + 1] = points[chosen]!;
    a = chosen;
  }
  out[threshold - 1] = points[n - 1]!;
  return out;
}

/**
 * Splits the points into `buckets` equal-count buckets and keeps each bucket's minimum and maximum (in x order), plus
 * the first and last point. Unlike LTTB it never hides a spike, which matters for latency and loss charts.
 * Returns at most 2 * buckets + 2 points; points must be sorted by x.
 */
export function minMaxBuckets<P extends TXYPoint>(points: readonly P[], buckets: number): P[] {
  const n = points.length;
  if (!Number.isFinite(buckets) || buckets < 1 || n <= 2 * buckets + 2) return points.slice();
  const out: P[] = [points[0]!];
  const size = (n - 2) / buckets;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size) + 1;
    const end = Math.min(Math.floor((b + 1) * size) + 1, n - 1);
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let j = start + 1; j < end; j++) {
      const y = points[j]!.y;
      if (y < points[lo]!.y) lo = j;
      if (y > points[hi]!.y) hi = j;
    }
    if (lo === hi) out.push(points[lo]!);
    else if (lo < hi) out.push(points[lo]!, points[hi]!);
    else out.push(points[hi]!, points[lo]!);
  }
  out.push(points[n - 1]!);
  return out;
}
