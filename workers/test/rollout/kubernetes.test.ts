// The Kubernetes serving backend against an in-memory API server, and the vLLM manifests against the Kubernetes,
// KEDA and Gateway API schemas. A fake pod (OpenAI-compatible) answers the runtime LoRA calls.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1";
import { artifactSubPath, createKubernetesServingBackend } from "../../src/serving/kubernetes.ts";
import { adapterSyncJob, vllmManifests, vllmName, weightedHttpRoute, type TVllmSpec } from "../../src/serving/kubernetes-manifests.ts";
import { startFakeKube, type TFakeKube } from "./fake-kube.ts";

const spec: Omit<TVllmSpec, "namespace" | "environmentId" | "baseModel"> = {
  image: "registry.local/loraplane/vllm:0.9",
  gpus: 1,
  replicas: 2,
  maxReplicas: 6,
  modelVolumeClaim: "models",
  adaptersVolumeClaim: "adapters",
  maxLoras: 8,
  maxLoraRank: 64,
  targetWaitingPerPod: 4,
  autoscaler: "keda",
  apiKeySecret: "loraplane-serving-api-key",
};
/** SERVING_API_KEY as the workers have it; vLLM gets the same value from the Secret above. */
const API_KEY = "serving-key-0123456789abcdef0123456789";

describe("vLLM manifests", () => {
  it("validate against the schemas, with probes, GPU, PDB and autoscalers", () => {
    for (const autoscaler of ["hpa", "keda"] as const) {
      const m = vllmManifests({ ...spec, autoscaler, namespace: "prod", environmentId: "env1", baseModel: "/models/Qwen2.5-7B-Instruct" });
      for (const obj of [m.deployment, m.service, m.pdb, m.hpa, m.scaledObject]) obj?.validate();
      const c = m.deployment.spec!.template.spec!.containers[0]!;
      expect(c.resources!.limits!["nvidia.com/gpu"]).toBe("1");
      expect(c.readinessProbe!.httpGet!.path).toBe("/health");
      expect(c.startupProbe!.failureThreshold! * c.startupProbe!.periodSeconds!).toBeGreaterThanOrEqual(1800);
      expect(c.args).toEqual(expect.arrayContaining(["--enable-lora", "--max-loras", "8"]));
      expect(c.env!.find((e) => e.name === "VLLM_ALLOW_RUNTIME_LORA_UPDATING")!.value).toBe("True");
      expect(autoscaler === "hpa" ? m.hpa : m.scaledObject).not.toBeNull();
      // Issue 11 finding 10: vLLM requires an API key, read from a Secret (never inlined), on every /v1 call.
      expect(c.env!.find((e) => e.name === "VLLM_API_KEY")).toEqual({ name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "loraplane-serving-api-key", key: "api-key" } } });
      expect(c.args!.slice(c.args!.indexOf("--api-key"), c.args!.indexOf("--api-key") + 2)).toEqual(["--api-key", "$(VLLM_API_KEY)"]);
      const defined = new Set(c.env!.map((e) => e.name));
      for (const ref of c.args!.join(" ").matchAll(/\$\((\w+)\)/g)) expect(defined).toContain(ref[1]);
    }
    expect(vllmName("env1", "/models/Qwen2.5-7B-Instruct")).toMatch(/^vllm-qwen2-5-7b-instruct-[0-9a-f]{8}$/);
    expect(vllmName("env1", "/models/a")).not.toBe(vllmName("env2", "/models/a"));
    weightedHttpRoute({ name: "chat", namespace: "prod", gateway: { name: "ingress" }, hostnames: ["llm.local"], backends: [{ service: "a", weightBps: 9500 }, { service: "b", weightBps: 500 }] }).validate();
  });

  it("the example manifests shipped in deploy/kubernetes/vllm validate", () => {
    const kinds: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, PodDisruptionBudget, ScaledObject, HorizontalPodAutoscaler, HTTPRoute };
    const seen: string[] = [];
    for (const file of ["vllm-qwen2.5-7b.yaml", "alternatives.yaml"]) {
      for (const doc of parseAllDocuments(readFileSync(path.resolve(import.meta.dirname, "../../../deploy/kubernetes/vllm", file), "utf8"))) {
        const obj = doc.toJS() as { kind: string };
        const Model = kinds[obj.kind];
        expect(Model, obj.kind).toBeDefined();
        new Model!(obj as never).validate();
        seen.push(obj.kind);
      }
    }
    expect(seen.sort()).toEqual(["Deployment", "HTTPRoute", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ScaledObject", "Service"]);
  });

  it("the adapter delivery Job validates and mounts only the adapter's own folder, read-only", () => {
    const job = adapterSyncJob({ namespace: "prod", servedName: "qwen-zh-v3", sha256: "a".repeat(64), sourceSubPath: artifactSubPath("file:///runs/run1/train-1/adapter", "/runs"), image: "img", artifactsVolumeClaim: "runs", adaptersVolumeClaim: "adapters" });
    job.validate();
    const mounts = job.spec!.template.spec!.containers[0]!.volumeMounts!;
    expect(mounts).toContainEqual({ name: "artifacts", mountPath: "/source", subPath: "run1/train-1/adapter", readOnly: true });
    expect(job.spec!.template.spec!.automountServiceAccountToken).toBe(false);
  });

  it("a bad manifest fails validation", () => {
    const m = vllmManifests({ ...spec, namespace: "prod", environmentId: "e", baseModel: "/models/x" });
    (m.deployment.spec as { replicas: unknown }).replicas = "two";
    expect(() => m.deployment.validate()).toThrow();
  });
});

const ARTIFACTS_ROOT = "/runs";
const PYTHON = path.resolve(import.meta.dirname, "../../../gpu-runtime/.venv/bin/python");
const GPU_RUNTIME = path.resolve(import.meta.dirname, "../../../gpu-runtime");
const volumesRoot = mkdtempSync(path.join(tmpdir(), "lp-adapter-delivery-"));
// Local folders standing in for the PersistentVolumes, by claim name.
const volumes = { artifacts: path.join(volumesRoot, "artifacts"), adapters: path.join(volumesRoot, "adapters") };
const delivery = { image: "loraplane/gpu-runtime:test", artifactsVolumeClaim: "runs", adaptersVolumeClaim: "adapters", artifactsRoot: ARTIFACTS_ROOT };
mkdirSync(volumes.adapters, { recursive: true });

/** An adapter folder as gpu-runtime writes it: files plus manifest.json; its digest is the manifest's sha256. */
function writeAdapter(rel: string, weights = `weights-${rel}`) {
  const dir = path.join(volumes.artifacts, rel);
  mkdirSync(dir, { recursive: true });
  const files = { "adapter_config.json": '{"r":8}', "adapter_model.safetensors": weights };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const manifest = JSON.stringify({ files: Object.entries(files).map(([p, text]) => ({ path: p, sha256: createHash("sha256").update(text).digest("hex"), size: Buffer.byteLength(text) })) });
  writeFileSync(path.join(dir, "manifest.json"), manifest);
  return { dir, weights, sha256: createHash("sha256").update(manifest).digest("hex") };
}

let kube: TFakeKube;

/**
 * Plays the kubelet for adapter-sync Jobs: runs the Job's real command (gpu-runtime sync-adapter) with its volume
 * mounts mapped onto the local folders (subPath included), and records success or failure in the Job's status.
 */
function runJobsLikeAKubelet(): NodeJS.Timeout {
  return setInterval(() => {
    for (const [key, obj] of kube.objects) {
      if (!key.includes("/jobs/") || obj.status) continue;
      const job = new Job(obj as never);
      const pod = job.spec!.template.spec!;
      const c = pod.containers[0]!;
      const claimOf = (vol: string) => pod.volumes!.find((v) => v.name === vol)!.persistentVolumeClaim!.claimName;
      const local = (claim: string) => (claim === delivery.artifactsVolumeClaim ? volumes.artifacts : claim === delivery.adaptersVolumeClaim ? volumes.adapters : "/nonexistent");
      let args = c.command!.slice(1);
      for (const m of c.volumeMounts!) {
        const hostPath = path.join(local(claimOf(m.name)), m.subPath ?? "");
        args = args.map((a) => (a === m.mountPath || a.startsWith(`${m.mountPath}/`) ? hostPath + a.slice(m.mountPath.length) : a));
      }
      try {
        execFileSync(PYTHON, args, { cwd: GPU_RUNTIME, stdio: "pipe" });
        obj.status = { succeeded: 1 };
      } catch (error) {
        const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim().split("\n").pop();
        obj.status = { failed: 3, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: stderr }] };
      }
    }
  }, 30);
}

describe("Kubernetes serving backend", () => {
  let pod: http.Server;
  let podPort = 0;
  const loraCalls: string[] = [];
  const refused: string[] = [];

  beforeAll(async () => {
    kube = await startFakeKube();
    pod = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        // Like vLLM started with --api-key: /v1 calls without the key are refused.
        if (req.headers.authorization !== `Bearer ${API_KEY}`) {
          refused.push(`${req.url}`);
          res.writeHead(401, { "content-type": "application/json" }).end('{"error":"Unauthorized"}');
          return;
        }
        loraCalls.push(`${req.url} ${body}`);
        res.writeHead(200).end("Success");
      });
    });
    await new Promise<void>((r) => pod.listen(0, "127.0.0.1", () => r()));
    podPort = (pod.address() as { port: number }).port;
  });
  afterAll(async () => {
    await kube.close();
    await new Promise<void>((r) => pod.close(() => r()));
  });

  it("creates the objects once, waits for a ready replica, loads adapters on every pod, re-applies idempotently, stops", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: kube.url, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "fake", user: "u" }],
      currentContext: "c",
    });
    const backend = createKubernetesServingBackend({ kubeConfig: kc, specFor: () => spec, pollMs: 50, readyTimeoutMs: 20_000, podPort, adapterDelivery: delivery, apiKey: API_KEY });
    const target = { environmentId: "env1", namespace: "prod", baseModel: "/models/Qwen2.5-7B-Instruct" };
    const name = vllmName(target.environmentId, target.baseModel);
    const depPath = `/apis/apps/v1/namespaces/prod/deployments/${name}`;
    // The cluster: the Deployment becomes ready a little after it is created, with two pod endpoints.
    const cluster = setInterval(() => {
      const d = kube.objects.get(depPath);
      if (!d) return;
      setTimeout(() => (d.status = { readyReplicas: 2 }), 200);
      clearInterval(cluster);
    }, 20);
    kube.objects.set(`/api/v1/namespaces/prod/endpoints/${name}`, { kind: "Endpoints", apiVersion: "v1", metadata: { name, namespace: "prod", resourceVersion: "1" }, subsets: [{ addresses: [{ ip: "127.0.0.1" }, { ip: "127.0.0.1" }] }] });

    const ref = await backend.ensure(target, null);
    expect(ref).toEqual({ url: `http://${name}.prod.svc:8000`, externalId: `prod/${name}` });
    for (const p of [depPath, `/api/v1/namespaces/prod/services/${name}`, `/apis/policy/v1/namespaces/prod/poddisruptionbudgets/${name}`, `/apis/keda.sh/v1alpha1/namespaces/prod/scaledobjects/${name}`]) {
      expect(kube.objects.has(p), p).toBe(true);
    }
    expect(kube.requests.filter((r) => r.startsWith("POST")).length).toBe(4);

    await backend.ensure(target, ref);
    expect(kube.requests.filter((r) => r.startsWith("POST")).length).toBe(4);
    expect(kube.requests.filter((r) => r === `PUT ${depPath}`).length).toBe(1);

    // The adapter lives on the artifacts volume, where training wrote it; vLLM pods cannot see that volume.
    const adapter = writeAdapter("runs/run1/train-1/adapter");
    const kubelet = runJobsLikeAKubelet();
    await backend.loadAdapter(ref, "qwen-zh-v3", `file://${ARTIFACTS_ROOT}/runs/run1/train-1/adapter`, adapter.sha256);
    clearInterval(kubelet);
    const loads = loraCalls.filter((c) => c.startsWith("/v1/load_lora_adapter"));
    expect(loads).toHaveLength(2);
    // Every path sent to vLLM lies inside a volume the vLLM pod spec (made by the same code) mounts, and the verified
    // copy is really there on that volume.
    const mounts = vllmManifests({ ...spec, namespace: "prod", environmentId: "env1", baseModel: "/models/Qwen2.5-7B-Instruct" }).deployment.spec!.template.spec!.containers[0]!.volumeMounts!;
    for (const call of loads) {
      const sent = (JSON.parse(call.slice(call.indexOf(" ") + 1)) as { lora_path: string }).lora_path;
      const mount = mounts.find((m) => sent.startsWith(`${m.mountPath}/`));
      expect(mount, `${sent} is outside every vLLM volume mount`).toBeDefined();
      expect(mount!.name).toBe("adapters");
      expect(readFileSync(path.join(volumes.adapters, path.relative(mount!.mountPath, sent), "adapter_model.safetensors"), "utf8")).toBe(adapter.weights);
    }
    await backend.unloadAdapter(ref, "qwen-zh-v3");
    expect(loraCalls.filter((c) => c.startsWith("/v1/unload_lora_adapter"))).toHaveLength(2);
    expect(refused).toEqual([]);

    // A worker without the key is refused by vLLM: unloading fails loudly instead of silently doing nothing.
    const keyless = createKubernetesServingBackend({ kubeConfig: kc, specFor: () => spec, pollMs: 50, readyTimeoutMs: 20_000, podPort, adapterDelivery: delivery });
    await expect(keyless.unloadAdapter(ref, "qwen-zh-v3")).rejects.toThrow(/HTTP 401/);
    expect(refused).toEqual(["/v1/unload_lora_adapter", "/v1/unload_lora_adapter"]);

    await backend.stop(ref);
    expect(kube.objects.has(depPath)).toBe(false);
  });

  it("refuses to load an adapter whose files do not match the registered digest, and one outside the artifacts volume", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: "fake", server: kube.url, skipTLSVerify: true }], users: [{ name: "u", token: "t" }], contexts: [{ name: "c", cluster: "fake", user: "u" }], currentContext: "c" });
    const backend = createKubernetesServingBackend({ kubeConfig: kc, specFor: () => spec, pollMs: 50, readyTimeoutMs: 20_000, podPort, adapterDelivery: delivery });
    const ref = { url: "http://vllm.prod.svc:8000", externalId: "prod/vllm-x" };
    const adapter = writeAdapter("runs/run2/train-1/adapter");
    writeFileSync(path.join(adapter.dir, "adapter_model.safetensors"), "planted weights");
    const before = loraCalls.length;
    const kubelet = runJobsLikeAKubelet();
    await expect(backend.loadAdapter(ref, "qwen-zh-v4", `file://${ARTIFACTS_ROOT}/runs/run2/train-1/adapter`, adapter.sha256)).rejects.toThrow(/adapter delivery Job prod\/adapter-sync-qwen-zh-v4-[0-9a-f]+ failed: BackoffLimitExceeded .*adapter_model.safetensors does not match/);
    clearInterval(kubelet);
    await expect(backend.loadAdapter(ref, "qwen-zh-v5", "file:///etc/passwd", adapter.sha256)).rejects.toThrow(/not on the artifacts volume/);
    await expect(backend.loadAdapter(ref, "qwen-zh-v5", "file:///runs/../etc", adapter.sha256)).rejects.toThrow(/not on the artifacts volume/);
    await expect(backend.loadAdapter(ref, "qwen-zh-v5", "file:///runs/x", null)).rejects.toThrow(/no registered digest/);
    expect(loraCalls.length).toBe(before);
    expect(readdirSync(volumes.adapters)).not.toContain("qwen-zh-v4");
  });
});
