export { DEMO_DATASET, DEMO_ENVIRONMENTS, DEMO_PROJECT, demoPipelineSpec } from "./demo-pipeline-spec.ts";
export { seedDemoProject, type RunCommand, type SeedOptions, type SeedResult } from "./seed-demo-project.ts";
export { BEFORE_AFTER_METRICS, formatBeforeAfter, ZEvalReportMetrics, type TEvalReportMetrics } from "./demo-before-after.ts";
