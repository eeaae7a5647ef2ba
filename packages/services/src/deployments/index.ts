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
export { getShadowResults, type TShadowResults, type TShadowPair } from "./shadow-results.ts";
export { judgePendingPairs, openAiCompatibleJudge, JUDGE_MAX_ATTEMPTS, type TShadowJudge, type TOpenAiJudgeOptions } from "./shadow-judge.ts";
export { SYSTEM_ACTOR, BASE_ROLES, newVariant, baseVariant, parsePolicy, type TDeploymentDeps } from "./shared.ts";
export {
  gatewayWindowsProvider,
  prometheusProvider,
  promBucketsToHistogram,
  VLLM_QUERIES,
  type TMetricProvider,
  type TPromQueries,
  type TProviderStats,
} from "./metric-providers.ts";
export {
  builtinTrafficProvider,
  listTrafficTargets,
  liveVariants,
  PIN_HEADER,
  recordedPins,
  recordedWeights,
  stableWeights,
  syncTraffic,
  type TTrafficApplied,
  type TTrafficPin,
  type TTrafficProvider,
  type TTrafficTarget,
  type TTrafficVariant,
} from "./traffic-providers.ts";
