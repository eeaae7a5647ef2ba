// Prometheus metrics of the worker process (served on /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobs: new Counter({ name: "loraplane_worker_jobs_total", help: "Jobs processed, by queue and outcome", labelNames: ["queue", "outcome"] as const, registers: [registry] }),
    stageDuration: new Histogram({
      name: "loraplane_stage_duration_seconds",
      help: "Wall time of finished stage attempts, by stage and final status",
      labelNames: ["stage", "status"] as const,
      buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 1800, 7200, 21600],
      registers: [registry],
    }),
    launches: new Counter({ name: "loraplane_workload_launches_total", help: "Workloads launched, by stage and executor", labelNames: ["stage", "executor"] as const, registers: [registry] }),
    reattaches: new Counter({ name: "loraplane_workload_reattaches_total", help: "Workloads found already running and re-attached to", labelNames: ["stage"] as const, registers: [registry] }),
    ingestedPoints: new Counter({ name: "loraplane_ingested_metric_points_total", help: "Metric points read from workload output", registers: [registry] }),
    watching: new Gauge({ name: "loraplane_workloads_watched", help: "Workloads this worker is watching now", registers: [registry] }),
    reconciled: new Counter({ name: "loraplane_reconciler_requeued_total", help: "Stage jobs the reconciler re-enqueued because Redis had lost them", registers: [registry] }),
    queueWaiting: new Gauge({ name: "loraplane_queue_waiting_jobs", help: "Jobs waiting per queue", labelNames: ["queue"] as const, registers: [registry] }),
  };
}
export type TWorkerMetrics = ReturnType<typeof createWorkerMetrics>;
