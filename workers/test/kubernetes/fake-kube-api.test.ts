// The fake API server itself, through the real client: discovery (how a caller detects CRDs such as JobSet), label
// selectors, patches and optimistic concurrency, so other executors can rely on it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApisApi, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { FakeKubeApi, parseLabelSelector } from "../helpers/fake-kube-api.ts";

const api = new FakeKubeApi({ types: [{ group: "jobset.x-k8s.io", version: "v1alpha2", plural: "jobsets", kind: "JobSet", namespaced: true }] });
const kc = new KubeConfig();
beforeAll(async () => {
  await api.start(21_102);
  kc.loadFromOptions(api.kubeconfig("ns"));
});
afterAll(() => api.stop());

describe("fake Kubernetes API", () => {
  it("answers API discovery, including registered custom resources", async () => {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name).sort()).toEqual(["apps", "batch", "jobset.x-k8s.io"]);
  });

  it("filters by label selector and reports AlreadyExists, NotFound and stale updates like the apiserver", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "ns", body: { metadata: { name: "a", labels: { tier: "gpu", env: "dev" } } } });
    await core.createNamespacedConfigMap({ namespace: "ns", body: { metadata: { name: "b", labels: { tier: "cpu" } } } });
    await expect(core.createNamespacedConfigMap({ namespace: "ns", body: { metadata: { name: "a" } } })).rejects.toMatchObject({ code: 409 });
    await expect(core.readNamespacedConfigMap({ namespace: "ns", name: "zz" })).rejects.toMatchObject({ code: 404 });
    const names = async (labelSelector: string) => (await core.listNamespacedConfigMap({ namespace: "ns", labelSelector })).items.map((i) => i.metadata!.name);
    expect(await names("tier=gpu")).toEqual(["a"]);
    expect(await names("tier in (gpu,cpu),!env")).toEqual(["b"]);
    expect(await names("tier!=gpu")).toEqual(["b"]);
    const a = await core.readNamespacedConfigMap({ namespace: "ns", name: "a" });
    await core.replaceNamespacedConfigMap({ namespace: "ns", name: "a", body: { ...a, data: { k: "1" } } });
    await expect(core.replaceNamespacedConfigMap({ namespace: "ns", name: "a", body: { ...a, data: { k: "2" } } })).rejects.toMatchObject({ code: 409 });
  });

  it("applies merge and JSON patches and bumps resourceVersion", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const created = await apps.createNamespacedDeployment({ namespace: "ns", body: { metadata: { name: "d" }, spec: { replicas: 1, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } } });
    const merged = await apps.patchNamespacedDeployment({ namespace: "ns", name: "d", body: { spec: { replicas: 3 } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    expect(merged.spec!.replicas).toBe(3);
    const patched = await apps.patchNamespacedDeployment({ namespace: "ns", name: "d", body: [{ op: "replace", path: "/spec/replicas", value: 5 }] });
    expect(patched.spec!.replicas).toBe(5);
    expect(Number(patched.metadata!.resourceVersion)).toBeGreaterThan(Number(created.metadata!.resourceVersion));
  });

  it("rejects selectors it cannot parse", () => {
    expect(() => parseLabelSelector("a in b")).toThrow(/unable to parse/);
  });
});
