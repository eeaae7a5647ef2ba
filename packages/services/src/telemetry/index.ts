export { contextFromTraceparent, initTracing, traceparentOf, withSpan, type TTracing } from "./tracing.ts";
