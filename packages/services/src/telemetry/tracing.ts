// OpenTelemetry traces, off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT). A run is one trace:
// the trigger (web, CLI, webhook) opens it and stores its W3C traceparent on the run row, and every stage span —
// in whichever worker, after any restart — joins it from there; workloads get it as TRACEPARENT.
import { AsyncLocalStorage } from "node:async_hooks";
import { context, propagation, ROOT_CONTEXT, type Span, SpanStatusCode, trace, type Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";

export interface TTracing {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
/** The span `withSpan` is running, for code below it that must hand the trace on (no global context manager here). */
const currentSpan = new AsyncLocalStorage<Span>();
/** Where spans go (null: off, or an exporter given in code); workloads export theirs to the same collector. */
let exportEndpoint: string | null = null;

/**
 * Registers a global tracer provider exporting over OTLP/HTTP (JSON) to `endpoint` (…/v1/traces is appended), or to
 * the given exporter. Returns null, and tracing stays a no-op, when neither is set.
 */
export function initTracing(o: { serviceName: string; endpoint?: string | null; exporter?: SpanExporter }): TTracing | null {
  if (!o.endpoint && !o.exporter) return null;
  exportEndpoint = o.endpoint ?? null;
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: `${o.endpoint!.replace(/\/+$/, "")}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": o.serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  trace.disable();
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(propagator);
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      exportEndpoint = null;
    },
  };
}

function tracer() {
  return trace.getTracer("loraplane");
}

/** The W3C traceparent of a span (null for a no-op span, i.e. when tracing is off). */
export function traceparentOf(span: Span): string | null {
  if (!span.isRecording()) return null;
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier.traceparent ?? null;
}

/**
 * The environment that lets a workload (gpu-runtime) continue the trace: TRACEPARENT of the span running now (the
 * stage span) and the collector it exports to. Empty when tracing is off.
 */
export function workloadTraceEnv(): Record<string, string> {
  const span = currentSpan.getStore();
  const traceparent = span ? traceparentOf(span) : null;
  if (!traceparent) return {};
  return { TRACEPARENT: traceparent, ...(exportEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: exportEndpoint } : {}) };
}

export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, { get: (c, k) => c[k as keyof typeof c], keys: (c) => Object.keys(c) });
}

/**
 * Runs `fn` inside a span (a child of `parent`), recording an exception as the span's error. The span is passed in so
 * `fn` can add attributes (the run id once it exists) or read its traceparent.
 */
export async function withSpan<T>(name: string, attributes: Record<string, string | number>, parent: Context | null, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer().startSpan(name, { attributes }, parent ?? context.active());
  try {
    return await currentSpan.run(span, () => fn(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}
