// A stand-in for gpu-runtime in tests: speaks the same stdout protocol (metrics/progress/heartbeat/artifact/result
// JSON lines, logs on stderr, exit codes) in milliseconds. Behaviour from FAKE_MODE: ok | fail | hang | slow.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";

const [command, , configPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(configPath, "utf8"));
const mode = process.env.FAKE_MODE ?? "ok";
const stepMs = Number(process.env.FAKE_STEP_MS ?? "10");
const out = job.paths.outputDir;
appendFileSync("launches.log", `${process.pid}\n`);
const emit = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => process.stderr.write(`[fake-workload] ${m}\n`);

log(`${command} for run ${job.runId} (mode ${mode})`);
// The trace context the worker hands on (tracing tests check it joins the stage's span).
if (process.env.TRACEPARENT) log(`TRACEPARENT=${process.env.TRACEPARENT} OTEL_EXPORTER_OTLP_ENDPOINT=${process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? ""}`);
if (mode === "fail") {
  log("loading dataset");
  log("ValueError: dataset row 7 has no 'output' field");
  process.exit(3);
}
if (mode === "hang") {
  log("stuck before the first step");
  await sleep(10 * 60_000);
}
const steps = mode === "slow" ? 1_000_000 : (job.spec.training.maxSteps ?? 20);
mkdirSync(out, { recursive: true });

/** A checkpoint folder like the runtime's: trainer_state.json plus a manifest, reported as an artifact. */
function saveCheckpoint(step) {
  const dir = path.join(out, "checkpoints", `step-${step}`);
  mkdirSync(dir, { recursive: true });
  const state = JSON.stringify({ step });
  writeFileSync(path.join(dir, "trainer_state.json"), state);
  const manifest = JSON.stringify({ files: [{ path: "trainer_state.json", sha256: createHash("sha256").update(state).digest("hex"), size: state.length }] });
  writeFileSync(path.join(dir, "manifest.json"), manifest);
  emit({ event: "artifact", kind: "checkpoint", uri: dir, sha256: createHash("sha256").update(manifest).digest("hex"), sizeBytes: state.length });
}

// FAKE_MODE=crash-once: a first attempt checkpoints every 5 steps and dies at step 12; an attempt given
// paths.resumeFrom continues after that checkpoint's step, like the runtime.
let firstStep = 1;
if (command === "train" && job.paths.resumeFrom) {
  const resumed = JSON.parse(readFileSync(path.join(job.paths.resumeFrom, "trainer_state.json"), "utf8")).step;
  emit({ event: "resumed", checkpoint: job.paths.resumeFrom, step: resumed });
  firstStep = resumed + 1;
}
if (command === "train") {
  for (let step = firstStep; step <= steps; step++) {
    await sleep(stepMs);
    if (mode === "crash-once" && !job.paths.resumeFrom) {
      if (step % 5 === 0) saveCheckpoint(step);
      if (step === 12) {
        log("killed at step 12");
        process.exit(137);
      }
    }
    const loss = 2 / Math.sqrt(step);
    emit({ event: "metrics", points: [{ key: "train/loss", step, value: loss, timestamp: Date.now() }, { key: "train/learning_rate", step, value: job.spec.training.learningRate, timestamp: Date.now() }] });
    emit({ event: "progress", stage: "train", step, totalSteps: steps, progress: step / steps, etaSeconds: ((steps - step) * stepMs) / 1000 });
  }
  const adapterDir = path.join(out, "adapter");
  mkdirSync(adapterDir, { recursive: true });
  const file = path.join(adapterDir, "adapter_config.json");
  writeFileSync(file, JSON.stringify({ r: job.spec.training.lora.r }));
  const body = readFileSync(file);
  // Like gpu-runtime's dir_digest: the adapter's digest is the sha256 of a manifest listing every file.
  const manifest = JSON.stringify({ files: [{ path: "adapter_config.json", sha256: createHash("sha256").update(body).digest("hex"), size: body.length }] });
  writeFileSync(path.join(adapterDir, "manifest.json"), manifest);
  emit({ event: "artifact", kind: "adapter", uri: `file://${adapterDir}`, sha256: createHash("sha256").update(manifest).digest("hex"), sizeBytes: body.length });
  emit({ event: "result", stage: "train", adapterDir, finalLoss: 2 / Math.sqrt(steps), steps });
} else {
  // Real evaluation takes a while; tests that need to catch the eval stage running give it time here.
  await sleep(Number(process.env.FAKE_EVAL_MS ?? "0"));
  const all = readFileSync(path.join(job.paths.dataDir, `${job.spec.eval.split}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  // Like the runtime, eval.maxSamples evaluates only the first rows (sweep tests steer the metric with it).
  const rows = job.spec.eval.maxSamples ? all.slice(0, job.spec.eval.maxSamples) : all;
  // Scores are computed from the data so tests can steer them: a row whose output starts with "ok" counts as a match.
  const samples = rows.map((r) => ({ prompt: r.instruction, reference: r.output, prediction: r.output.startsWith("ok") ? r.output : "nope", scores: {} }));
  for (const s of samples) s.scores.exact_match = s.prediction === s.reference ? 1 : 0;
  const em = samples.reduce((a, s) => a + s.scores.exact_match, 0) / samples.length;
  const report = { metrics: { rouge_l: em, exact_match: em }, samples, numSamples: samples.length, split: job.spec.eval.split };
  const file = path.join(out, "eval_report.json");
  writeFileSync(file, JSON.stringify(report));
  emit({ event: "metrics", points: [{ key: "eval/rouge_l", step: 0, value: em }, { key: "eval/exact_match", step: 0, value: em }] });
  emit({ event: "artifact", kind: "eval_report", uri: `file://${file}`, sizeBytes: readFileSync(file).length });
  emit({ event: "result", stage: "eval", metrics: report.metrics, report: file });
}
log("done");
