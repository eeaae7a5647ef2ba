// One triggered run is one trace: the trigger's span (what the web process opens) and every stage span the worker
// opens — after a hop through Redis — share its trace id and carry the run id; the workload is started with the
// train stage's span as TRACEPARENT and the same collector, and gpu-runtime's tracing module, given that
// environment, sends its span there as the stage span's child. Exported over real OTLP/HTTP to an in-process
// collector.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { useTestDb } from "@loraplane/db/testing";
import { initTracing, triggerRun, type TTracing } from "@loraplane/services";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, seedProject, waitFor, startFakeWorker, stopFakeWorker } from "./helpers/fixtures.ts";

const t = useTestDb("tracing");
const dirs = makeDataDirs();
const prefix = `lpq-trace-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;
let tracing: TTracing | null = null;
let collector: http.Server;
let endpoint = "";

interface TOtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}
const received: { service: string; span: TOtlpSpan }[] = [];

beforeAll(async () => {
  // The collector: OTLP/HTTP with JSON bodies, as the exporter sends them.
  collector = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const doc = JSON.parse(body) as { resourceSpans: { resource: { attributes: TOtlpSpan["attributes"] }; scopeSpans: { spans: TOtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
          for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  tracing = initTracing({ serviceName: "loraplane-test", endpoint });
  app = await startFakeWorker(t.db, dirs, prefix, { concurrency: 2 });
});
afterAll(async () => {
  await stopFakeWorker(app);
  await tracing?.shutdown();
  collector.close();
});

it("the trigger and every stage of a run are one trace, with the run id on each span", { timeout: 90_000 }, async () => {
  expect(tracing).not.toBeNull();
  const s = await seedProject(t.db, dirs);
  const { run } = await triggerRun({ db: t.db, queue: app.queue }, { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
  const stored = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { traceparent: true } });
  expect(stored.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  await waitFor(async () => {
    const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true } });
    return r.status === "succeeded" ? r : null;
  }, 60_000, "run to succeed");
  await tracing!.forceFlush();

  const attr = (sp: TOtlpSpan, key: string) => sp.attributes.find((a) => a.key === key)?.value.stringValue;
  const ofRun = received.filter((r) => attr(r.span, "loraplane.run_id") === run.id).map((r) => r.span);
  const trigger = ofRun.find((sp) => sp.name === "run.trigger")!;
  expect(trigger).toBeDefined();
  const traceId = stored.traceparent!.split("-")[1]!;
  expect(trigger.traceId).toBe(traceId);
  const stages = ofRun.filter((sp) => sp.name.startsWith("stage "));
  expect(stages.map((sp) => sp.name).sort()).toEqual(["stage eval", "stage gate", "stage prepare", "stage register", "stage train"]);
  for (const sp of stages) {
    expect(sp.traceId).toBe(traceId);
    expect(sp.parentSpanId).toBe(trigger.spanId);
    expect(attr(sp, "loraplane.outcome")).toBe("succeeded");
  }

  // The workload got the train stage's span as its parent, and the collector to send to.
  const train = await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id, stage: "train" }, select: { logsUri: true } });
  const handedOn = /TRACEPARENT=(\S+) OTEL_EXPORTER_OTLP_ENDPOINT=(\S*)/.exec(readFileSync(fileURLToPath(train.logsUri!), "utf8"));
  expect(handedOn?.[2]).toBe(endpoint);
  const trainSpan = stages.find((sp) => sp.name === "stage train")!;
  expect(handedOn?.[1]).toBe(`00-${traceId}-${trainSpan.spanId}-01`);

  // gpu-runtime's tracing module (standard library only) in that environment: its span is the stage span's child.
  // (Not execFileSync: the collector answers from this process's event loop.)
  await promisify(execFile)("python3", ["-c", "from loraplane_runtime import tracing\ntracing.start('" + run.id + "', 'train')\nwith tracing.span('runtime train'):\n    pass"], {
    cwd: path.resolve(import.meta.dirname, "../../gpu-runtime"),
    env: { PATH: process.env.PATH, TRACEPARENT: handedOn![1]!, OTEL_EXPORTER_OTLP_ENDPOINT: handedOn![2]! },
  });
  const runtime = received.find((r) => r.span.name === "runtime train" && attr(r.span, "loraplane.run_id") === run.id);
  expect(runtime?.service).toBe("loraplane-runtime");
  expect(runtime?.span.traceId).toBe(traceId);
  expect(runtime?.span.parentSpanId).toBe(trainSpan.spanId);
});
