export { startDeployment, servedModelNameFor, ZStartDeploymentInput, type TStartDeploymentInput } from "./start-deployment.ts";
export {
  promoteDeployment,
  rollbackDeployment,
  setDeploymentSplit,
  pauseDeployment,
  resumeDeployment,
  type TDeploymentActionInput,
  type TDeploymentActionResult,
} from "./actions.ts";
export { getDeploymentMetrics, ZDeploymentMetricsQuery, type TDeploymentMetrics, type TVariantMetrics, type TDeploymentMetricPoint } from "./get-deployment-metrics.ts";
export {
  analyseDeployment,
  checkDeploymentApproval,
  markNewVariantReady,
  markNewVariantFailed,
  recordSmokeTest,
  type TAnalysisOutcome,
} from "./controller.ts";
export { SYSTEM_ACTOR, newVariant, baseVariant, parsePolicy, type TDeploymentDeps } from "./shared.ts";
export {
  gatewayWindowsProvider,
  prometheusProvider,
  promBucketsToHistogram,
  VLLM_QUERIES,
  type TMetricProvider,
  type TPromQueries,
  type TProviderStats,
} from "./metric-providers.ts";
