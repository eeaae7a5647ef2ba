// Shared by the benchmarks: one percentile definition and one way to run a benchmark's main.

/** Nearest-rank percentile (q in (0, 1]) of unsorted samples. */
export function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs a benchmark and exits: 0 when it finished, 1 with the error printed when it threw. */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
