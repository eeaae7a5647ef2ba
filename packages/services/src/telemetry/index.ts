export { contextFromTraceparent, initTracing, traceparentOf, withSpan, workloadTraceEnv, type TTracing } from "./tracing.ts";
