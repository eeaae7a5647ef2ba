// Issue 11 finding 10 (Kubernetes side) and the RBAC low item: vLLM pods are reachable only from the workers and the
// gateways (NetworkPolicy in the chart and in deploy/kubernetes), vLLM requires an API key from a Secret that the
// workers get as SERVING_API_KEY, and the workers' Roles cannot create pods.
import { readFileSync } from "node:fs";
import path from "node:path";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureHelm, renderChart } from "./helm-binary.ts";
import { parseManifests, validateObject, type K8sObject } from "./k8s.ts";

const BASE = { "secrets.existingSecret": "loraplane-secrets" };
type TPolicy = { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchExpressions: { key: string; operator: string; values: string[] }[] } }[]; ports: { port: number; protocol: string }[] }[] } };

/** Whether a pod with `labels` in namespace `ns` may connect under `policy` (the subset of NetworkPolicy semantics used). */
function admits(policy: TPolicy, ns: string, labels: Record<string, string>, port: number): boolean {
  return policy.spec.ingress.some(
    (rule) =>
      rule.ports.some((p) => p.port === port) &&
      rule.from.some(
        (peer) =>
          (!peer.namespaceSelector || Object.entries(peer.namespaceSelector.matchLabels).every(([k, v]) => (k === "kubernetes.io/metadata.name" ? ns === v : false))) &&
          (!peer.podSelector || peer.podSelector.matchExpressions.every((e) => e.operator === "In" && e.values.includes(labels[e.key] ?? ""))),
      ),
  );
}

describe("serving security in the Helm chart", () => {
  let objs: K8sObject[];
  beforeAll(() => {
    ensureHelm();
    objs = parseManifests(renderChart(BASE));
  });

  it("renders a schema-valid NetworkPolicy per environment namespace admitting only workers and gateways to vLLM", () => {
    const policies = objs.filter((o) => o.kind === "NetworkPolicy");
    expect(policies.map((p) => p.metadata.namespace).sort()).toEqual(["loraplane-dev", "loraplane-prod", "loraplane-staging"]);
    for (const p of policies) {
      expect(validateObject(p)).toBe(true);
      const policy = p as unknown as TPolicy;
      expect(policy.spec.podSelector.matchLabels).toEqual({ "app.kubernetes.io/name": "vllm", "app.kubernetes.io/managed-by": "loraplane" });
      expect(policy.spec.policyTypes).toEqual(["Ingress"]);
      const release = { "app.kubernetes.io/instance": "lp" };
      expect(admits(policy, "loraplane", { ...release, "app.kubernetes.io/component": "workers" }, 8000)).toBe(true);
      expect(admits(policy, "loraplane", { ...release, "app.kubernetes.io/component": "gateway" }, 8000)).toBe(true);
      expect(admits(policy, "loraplane", { ...release, "app.kubernetes.io/component": "web" }, 8000)).toBe(false);
      expect(admits(policy, "loraplane-jobs", { "app.kubernetes.io/managed-by": "loraplane" }, 8000)).toBe(false);
      expect(admits(policy, "other-team", { ...release, "app.kubernetes.io/component": "gateway" }, 8000)).toBe(false);
      expect(admits(policy, "loraplane", { "app.kubernetes.io/instance": "other-release", "app.kubernetes.io/component": "gateway" }, 8000)).toBe(false);
    }
    // The selected pods are the ones the workers create (workers/src/serving/kubernetes-manifests.ts labels).
    expect(objs.filter((o) => o.kind === "Deployment").map((d) => (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels["app.kubernetes.io/component"]).sort()).toEqual(["gateway", "web", "workers"]);
  });

  it("gives the workers SERVING_API_KEY from the Secret vLLM reads, never inline, and no pods:create", () => {
    const workers = objs.find((o) => o.kind === "Deployment" && o.metadata.name === "lp-loraplane-workers")!;
    const env = (workers.spec as { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } }).template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === "SERVING_API_KEY")).toEqual({ name: "SERVING_API_KEY", valueFrom: { secretKeyRef: { name: "loraplane-serving-api-key", key: "api-key" } } });
    expect(env.find((e) => e.name === "VLLM_API_KEY_REF")?.value).toBe("loraplane-serving-api-key");
    for (const role of objs.filter((o) => o.kind === "Role")) {
      for (const rule of role.rules as { resources: string[]; verbs: string[] }[]) {
        if (rule.resources.includes("pods")) expect(rule.verbs).not.toContain("create");
      }
    }
  });

  it("mounts the data volume read-only in the workers when a data PVC is set, for dataset digest checks", () => {
    const withData = parseManifests(renderChart({ ...BASE, "workers.kubernetes.dataPvc": "datasets" }));
    const workers = withData.find((o) => o.kind === "Deployment" && o.metadata.name === "lp-loraplane-workers")!;
    const c = (workers.spec as { template: { spec: { containers: { env: { name: string; value?: string }[]; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[] } } }).template.spec.containers[0]!;
    expect(c.volumeMounts).toContainEqual({ name: "datasets", mountPath: "/datasets", readOnly: true });
    expect(c.env.find((e) => e.name === "K8S_DATA_DIR")?.value).toBe("/datasets");
  });
});

describe("deploy/kubernetes/vllm", () => {
  it("ships a schema-valid NetworkPolicy for vLLM pods and an example Deployment that reads its API key from a Secret", () => {
    const dir = path.resolve(import.meta.dirname, "../kubernetes/vllm");
    const [policy] = parseManifests(readFileSync(path.join(dir, "networkpolicy.yaml"), "utf8"));
    new NetworkPolicy(policy as never).validate();
    expect(admits(policy as unknown as TPolicy, "loraplane", { "app.kubernetes.io/component": "gateway" }, 8000)).toBe(true);
    expect(admits(policy as unknown as TPolicy, "default", { "app.kubernetes.io/component": "gateway" }, 8000)).toBe(false);
    const deployment = parseManifests(readFileSync(path.join(dir, "vllm-qwen2.5-7b.yaml"), "utf8")).find((o) => o.kind === "Deployment")!;
    expect(validateObject(deployment)).toBe(true);
    const c = (deployment.spec as { template: { spec: { containers: { args: string[]; env: { name: string; valueFrom?: unknown }[] }[] } } }).template.spec.containers[0]!;
    expect(c.args.slice(c.args.indexOf("--api-key"), c.args.indexOf("--api-key") + 2)).toEqual(["--api-key", "$(VLLM_API_KEY)"]);
    expect(c.env.find((e) => e.name === "VLLM_API_KEY")).toEqual({ name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "loraplane-serving-api-key", key: "api-key" } } });
  });
});
