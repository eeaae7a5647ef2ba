// Ctrl-C for `npm start`. A terminal sends SIGINT to the whole foreground process group (npm, sh, tsx and this
// process), and npm and tsx relay it, so one key press arrives here two or three times. The handlers stay installed
// for the life of the process (never `process.once`: a later signal would then kill us by Node's default action and
// abandon the children, which run detached in their own process groups). The first signal starts the ordered stop;
// copies within `relayWindowMs` are the same key press; a deliberate second Ctrl-C hurries the stop (SIGKILL instead
// of waiting out the grace period) — it never skips waiting for a child.
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type TStopSignal = (typeof STOP_SIGNALS)[number];

export class StopSignals {
  requested: { signal: TStopSignal; at: number } | null = null;
  hurried = false;
  readonly stopped: Promise<string>;
  private resolveStopped!: (reason: string) => void;
  private readonly hurryHandlers: Array<() => void> = [];
  private readonly listener = (signal: TStopSignal) => this.receive(signal);

  constructor(
    private readonly log: (line: string) => void,
    private readonly relayWindowMs = 1500,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    for (const signal of STOP_SIGNALS) process.on(signal, this.listener);
  }

  receive(signal: TStopSignal, now = Date.now()): void {
    if (!this.requested) {
      this.requested = { signal, at: now };
      this.log(`${signal} received; stopping in order (Ctrl-C again to stop faster; nothing is left running either way)`);
      this.resolveStopped(`${signal} received`);
      return;
    }
    // npm and tsx relay the terminal's signal: the same key press, not a second one.
    if (now - this.requested.at < this.relayWindowMs || this.hurried) return;
    this.hurried = true;
    this.log(`${signal} again: stopping faster (killing instead of waiting; still waiting for every process to end)`);
    for (const hurry of this.hurryHandlers) hurry();
  }

  /** Called once, on the first deliberate repeat of a stop signal. */
  onHurry(fn: () => void): void {
    this.hurryHandlers.push(fn);
  }

  /** Removes the handlers (tests); `npm start` keeps them until it exits. */
  dispose(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.listener);
  }
}
