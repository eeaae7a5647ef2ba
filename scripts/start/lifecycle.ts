// The running phase of `npm start`: start the services, run until a stop signal or a service ending on its own, then
// stop them in order. Shared by `npm start` and its signal test (deploy/test/start-signals.int.test.ts).
import type { Managed, SpawnOptions, Supervisor } from "./processes.ts";
import type { StopSignals } from "./signals.ts";

export interface TServiceSpec {
  name: string;
  command: string;
  args: string[];
  options?: SpawnOptions;
}

export interface TSuperviseOptions {
  supervisor: Supervisor;
  signals: StopSignals;
  services: TServiceSpec[];
  /** Names in the order they are stopped (traffic first, work last). */
  stopOrder: string[];
  graceMs: number;
  say: (line: string) => void;
  /** Runs once every service has been started (health checks, the banner). */
  onStarted?: (children: Managed[]) => void;
}

/** Returns once every service has stopped: code 0 after a stop signal, 1 when a service ended by itself. */
export async function superviseServices(o: TSuperviseOptions): Promise<{ reason: string; code: number }> {
  const children = o.services.map((s) => o.supervisor.start(s.name, s.command, s.args, s.options));
  const outcome = await new Promise<{ reason: string; code: number }>((resolve) => {
    void o.signals.stopped.then((reason) => resolve({ reason, code: 0 }));
    for (const child of children) {
      void child.exited.then((code) => {
        if (!child.stopping) resolve({ reason: `${child.name} exited with code ${code}`, code: 1 });
      });
    }
    o.onStarted?.(children);
  });
  o.say(`${outcome.reason}; shutting down`);
  // Whatever else arrives now (relayed signals, a second Ctrl-C) only hurries this; it never ends us before it is done.
  await o.supervisor.stop(o.stopOrder, o.graceMs, o.say);
  return outcome;
}
