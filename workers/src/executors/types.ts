// One interface for every place a workload can run (trigger.dev's workload manager idea): the stage runner launches,
// polls, reads output and cancels through it and never knows whether it talks to a process or a Kubernetes Job.

export interface TWorkloadSpec {
  runId: string;
  /** The run's project: a Kubernetes Job mounts only this project's datasets. */
  projectId: string;
  stage: "train" | "eval";
  attempt: number;
  /** The gpu-runtime job JSON (runId, stage, paths, spec). */
  job: Record<string, unknown>;
  /** gpu-runtime subcommand. */
  command: "train" | "evaluate";
  resources: {
    gpus: number;
    gpuType?: string | undefined;
    cpu: string;
    memory: string;
    nodeSelector: Record<string, string>;
    tolerations: { key?: string | undefined; operator: string; value?: string | undefined; effect?: string | undefined }[];
    spot: boolean;
  };
  distributed: { nprocPerNode: number; nnodes: number; strategy: string };
  timeoutSeconds: number;
  /** Extra environment for the workload (ingest URL, run token reference). */
  env: Record<string, string>;
}

export interface TWorkloadHandle {
  /** Deterministic: the same (run, stage, attempt) always gives the same id, so a restarted worker finds it. */
  externalId: string;
  /** Where the workload writes its outputs (a local directory or a mounted volume path). */
  outputDir: string;
}

export type TWorkloadState =
  | { phase: "running" }
  | { phase: "exited"; exitCode: number }
  /** Gone without an exit status: killed with the machine, deleted, evicted. */
  | { phase: "lost"; reason: string };

export interface TExecutor {
  readonly kind: "local" | "kubernetes";
  /** The storage root datasets live under as the workload sees it: `<root>/projects/<projectId>/datasets/…`. */
  readonly dataRoot: string;
  /** Idempotent: when the workload for this attempt already exists, returns it with launched=false. */
  launch(spec: TWorkloadSpec): Promise<TWorkloadHandle & { launched: boolean }>;
  /** The handle of an attempt launched earlier (possibly by another worker process). */
  handleFor(spec: Pick<TWorkloadSpec, "runId" | "stage" | "attempt">): TWorkloadHandle;
  state(handle: TWorkloadHandle): Promise<TWorkloadState>;
  /** Complete stdout lines from byte `offset` on (JSON events); executors whose workloads report over HTTP return none. */
  readEvents(handle: TWorkloadHandle, offset: number): Promise<{ lines: string[]; offset: number }>;
  /** Where the workload's human-readable log is kept (stored on the stage so the API can tail it). */
  logsUri(handle: TWorkloadHandle): string;
  /** The last `lines` lines of the workload's human-readable log. */
  tailLogs(handle: TWorkloadHandle, lines: number): Promise<string[]>;
  /** Stops the workload; safe to call when it has already exited. */
  cancel(handle: TWorkloadHandle): Promise<void>;
  /**
   * Where a path the workload sees (job.json paths, artifact URIs) is on the worker's own filesystem, or null when
   * the worker cannot read it (a volume it does not mount). Used to measure artifact digests.
   */
  hostPath(workloadPath: string): string | null;
  /** Reads a JSON file the workload wrote under its output directory. */
  readOutputFile(handle: TWorkloadHandle, relativePath: string): Promise<string | null>;
}
