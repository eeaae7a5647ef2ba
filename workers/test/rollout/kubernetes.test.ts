// The Kubernetes serving backend against an in-memory API server, and the vLLM manifests against the Kubernetes,
// KEDA and Gateway API schemas. A fake pod (OpenAI-compatible) answers the runtime LoRA calls.
import { readFileSync } from "node:fs";
import http from "node:http";
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
import { createKubernetesServingBackend } from "../../src/serving/kubernetes.ts";
import { vllmManifests, vllmName, weightedHttpRoute, type TVllmSpec } from "../../src/serving/kubernetes-manifests.ts";
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
};

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

  it("a bad manifest fails validation", () => {
    const m = vllmManifests({ ...spec, namespace: "prod", environmentId: "e", baseModel: "/models/x" });
    (m.deployment.spec as { replicas: unknown }).replicas = "two";
    expect(() => m.deployment.validate()).toThrow();
  });
});

describe("Kubernetes serving backend", () => {
  let kube: TFakeKube;
  let pod: http.Server;
  let podPort = 0;
  const loraCalls: string[] = [];

  beforeAll(async () => {
    kube = await startFakeKube();
    pod = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
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
    const backend = createKubernetesServingBackend({ kubeConfig: kc, specFor: () => spec, pollMs: 50, readyTimeoutMs: 5000, podPort });
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

    await backend.loadAdapter(ref, "qwen-zh-v3", "file:///adapters/qwen-zh-v3");
    expect(loraCalls.filter((c) => c.startsWith("/v1/load_lora_adapter"))).toHaveLength(2);
    expect(loraCalls[0]).toContain('"lora_path":"/adapters/qwen-zh-v3"');
    await backend.unloadAdapter(ref, "qwen-zh-v3");
    expect(loraCalls.filter((c) => c.startsWith("/v1/unload_lora_adapter"))).toHaveLength(2);

    await backend.stop(ref);
    expect(kube.objects.has(depPath)).toBe(false);
  });
});
