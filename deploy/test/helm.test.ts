import { beforeAll, describe, expect, it } from "vitest";
import { CHART_DIR, ensureHelm, helm, renderChart } from "./helm-binary.ts";
import { parseManifests, unknownEnv, validateObject, type K8sObject } from "./k8s.ts";

interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
type PodSpec = { containers: Container[]; serviceAccountName?: string; automountServiceAccountToken?: boolean };
const podSpec = (obj: K8sObject) => (obj.spec as { template: { spec: PodSpec } }).template.spec;
const find = (objs: K8sObject[], kind: string, name: string) => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not rendered; have ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
};

const BASE = { "secrets.existingSecret": "loraplane-secrets" };
const BUNDLED = {
  ...BASE,
  "postgresql.bundled": "true",
  "postgresql.existingSecret": "loraplane-postgres",
  "redis.bundled": "true",
  "metrics.serviceMonitor.enabled": "true",
  "oidc.issuer": "https://sso.example.com",
  "oidc.clientId": "loraplane",
};

describe("helm chart deploy/helm/loraplane", () => {
  let defaults: K8sObject[];
  let bundled: K8sObject[];
  beforeAll(() => {
    ensureHelm();
    defaults = parseManifests(renderChart(BASE));
    bundled = parseManifests(renderChart(BUNDLED));
  });

  it("passes helm lint", () => {
    expect(helm(["lint", CHART_DIR, "--strict", "--set", "secrets.existingSecret=x"])).toContain("0 chart(s) failed");
  });

  it("validates every rendered object against the Kubernetes schemas", () => {
    for (const objs of [defaults, bundled]) {
      const unchecked = objs.filter((o) => !validateObject(o)).map((o) => o.kind);
      // Only the Prometheus Operator CRD has no schema in kubernetes-models; it is checked field by field below.
      expect([...new Set(unchecked)]).toEqual(objs === bundled ? ["ServiceMonitor"] : []);
    }
    expect(defaults.length).toBeGreaterThan(20);
  });

  it("refuses to render without the Secret name, and never inlines a password", () => {
    expect(() => renderChart({})).toThrow(/secrets.existingSecret is required/);
    expect(() => renderChart({ ...BASE, "postgresql.bundled": "true" })).toThrow(/postgresql.existingSecret is required/);
    expect(bundled.filter((o) => o.kind === "Secret")).toEqual([]);
    for (const obj of [...defaults, ...bundled].filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet" || o.kind === "Job")) {
      for (const c of podSpec(obj).containers) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|SECRET/.test(e.name) || e.name === "DATABASE_URL" && !e.value?.includes("$(POSTGRES_PASSWORD)")) {
            expect(e.valueFrom?.secretKeyRef, `${obj.metadata.name}/${c.name} ${e.name}`).toBeDefined();
          }
        }
      }
    }
    const web = podSpec(find(defaults, "Deployment", "lp-loraplane-web")).containers[0]!;
    expect(web.env!.find((e) => e.name === "NEXTAUTH_SECRET")!.valueFrom!.secretKeyRef).toEqual({ name: "loraplane-secrets", key: "NEXTAUTH_SECRET" });
  });

  it("sets only variables each process's config schema knows", () => {
    const processOf: Record<string, string> = { web: "web", workers: "workers", gateway: "gateway", migrate: "migrate" };
    let checked = 0;
    for (const obj of [...defaults, ...bundled].filter((o) => o.kind === "Deployment" || o.kind === "Job")) {
      for (const c of podSpec(obj).containers) {
        const processName = processOf[c.name];
        if (!processName) continue;
        expect(unknownEnv(processName, c.env ?? []), `${obj.metadata.name}/${c.name}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBe(8);
  });

  it("gives web, workers and gateway probes, resources and a PodDisruptionBudget", () => {
    for (const component of ["web", "workers", "gateway"]) {
      const deployment = find(defaults, "Deployment", `lp-loraplane-${component}`);
      const container = podSpec(deployment).containers[0]!;
      expect(container.readinessProbe, component).toBeDefined();
      expect(container.livenessProbe, component).toBeDefined();
      expect(container.resources?.requests?.memory, component).toBeDefined();
      const pdb = find(defaults, "PodDisruptionBudget", `lp-loraplane-${component}`);
      const selector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      const podLabels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      for (const [k, v] of Object.entries(selector)) expect(podLabels[k]).toBe(v);
    }
    // Readiness exercises the database and the auth path (/api/ready); liveness only that the process answers.
    const web = podSpec(find(defaults, "Deployment", "lp-loraplane-web")).containers[0]!;
    expect(web.readinessProbe).toMatchObject({ httpGet: { path: "/api/ready" } });
    expect(web.livenessProbe).toMatchObject({ httpGet: { path: "/api/health" } });
    const single = parseManifests(renderChart({ ...BASE, "web.replicas": "1" }));
    expect(single.some((o) => o.kind === "PodDisruptionBudget" && o.metadata.name === "lp-loraplane-web")).toBe(false);
  });

  it("gives the Kubernetes executor its runtime image and the shared artifacts volume the Jobs write to", () => {
    const workers = podSpec(find(defaults, "Deployment", "lp-loraplane-workers")) as PodSpec & {
      volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      containers: (Container & { volumeMounts: { name: string; mountPath: string }[] })[];
    };
    const env = Object.fromEntries((workers.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ EXECUTOR: "kubernetes", K8S_ARTIFACTS_PVC: "loraplane-runs", K8S_ARTIFACTS_DIR: "/runs" });
    expect(env.K8S_RUNTIME_IMAGE).toBeTruthy();
    expect(workers.volumes.find((v) => v.name === "runs")?.persistentVolumeClaim?.claimName).toBe("loraplane-runs");
    expect(workers.containers[0]!.volumeMounts).toContainEqual({ name: "runs", mountPath: "/runs" });
    const local = podSpec(find(parseManifests(renderChart({ ...BASE, "workers.executor": "local" })), "Deployment", "lp-loraplane-workers")) as PodSpec & { volumes: { name: string }[] };
    expect(local.volumes.some((v) => v.name === "runs")).toBe(false);
  });

  it("migrates in a pre-install/pre-upgrade hook Job (post-install when Postgres is bundled)", () => {
    const job = find(defaults, "Job", "lp-loraplane-migrate");
    expect(job.metadata.annotations!["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    expect(podSpec(job).containers[0]!.command).toEqual(["node_modules/.bin/tsx", "packages/db/src/migrate/cli.ts"]);
    expect(find(bundled, "Job", "lp-loraplane-migrate").metadata.annotations!["helm.sh/hook"]).toBe("post-install,pre-upgrade");
  });

  it("gives the workers least-privilege Roles only in the managed namespaces", () => {
    expect(defaults.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toBe(false);
    const roles = defaults.filter((o) => o.kind === "Role");
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(["loraplane-dev", "loraplane-jobs", "loraplane-prod", "loraplane-staging"]);
    // No pods:create (issue 11, low): Jobs and Deployments create pods; the workers only read them. Everything the
    // vLLM backend calls (Endpoints, PDB/HPA/ScaledObject replace) is granted, nothing more.
    const allowed: Record<string, string[]> = {
      "batch/jobs": ["create", "get", "list", "watch", "delete"],
      "/pods": ["get", "list", "watch"],
      "/pods/log": ["get"],
      "/secrets": ["create"],
      "/services": ["create", "get", "list", "watch", "delete"],
      "/endpoints": ["get"],
      "apps/deployments": ["create", "get", "list", "watch", "update", "delete"],
      "policy/poddisruptionbudgets": ["create", "get", "update", "delete"],
      "autoscaling/horizontalpodautoscalers": ["create", "get", "list", "watch", "update", "delete"],
      "keda.sh/scaledobjects": ["create", "get", "update", "delete"],
    };
    for (const role of roles) {
      const granted: Record<string, string[]> = {};
      for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
        for (const g of rule.apiGroups) for (const r of rule.resources) granted[`${g}/${r}`] = rule.verbs;
      }
      expect(granted).toEqual(allowed);
    }
    for (const binding of defaults.filter((o) => o.kind === "RoleBinding")) {
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "lp-loraplane-workers", namespace: "loraplane" }]);
    }
    // JobSets only where multi-node training is configured to use them.
    const jobSet = parseManifests(renderChart({ ...BASE, "workers.kubernetes.multiNodeEngine": "jobset" }));
    for (const role of jobSet.filter((o) => o.kind === "Role")) {
      expect(role.rules).toContainEqual({ apiGroups: ["jobset.x-k8s.io"], resources: ["jobsets"], verbs: ["create", "get", "delete"] });
    }
    const jobSetEnv = (podSpec(find(jobSet, "Deployment", "lp-loraplane-workers")).containers[0]!.env ?? []).find((e) => e.name === "K8S_MULTINODE_ENGINE");
    expect(jobSetEnv?.value).toBe("jobset");
    const workers = podSpec(find(defaults, "Deployment", "lp-loraplane-workers"));
    expect(workers.serviceAccountName).toBe("lp-loraplane-workers");
    expect(workers.containers[0]!.env!.find((e) => e.name === "K8S_MULTINODE_ENGINE")?.value).toBe("indexed-job");
    // Only the workers talk to the Kubernetes API.
    for (const name of ["lp-loraplane-web", "lp-loraplane-gateway"]) {
      expect(podSpec(find(defaults, "Deployment", name)).automountServiceAccountToken).toBe(false);
    }
  });

  it("traffic provider gateway-api: the workers get the Gateway's parentRef, HTTPRoute and Service update rights, and its data plane may reach vLLM", () => {
    const envOf = (objs: K8sObject[]) => Object.fromEntries((podSpec(find(objs, "Deployment", "lp-loraplane-workers")).containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(envOf(defaults).ROLLOUT_TRAFFIC_PROVIDER).toBe("builtin");
    expect(envOf(defaults).GATEWAY_API_PARENT_NAME).toBeUndefined();
    const gw = parseManifests(renderChart({ ...BASE, "workers.rollout.trafficProvider": "gateway-api", "workers.rollout.gateway.name": "public", "workers.rollout.gateway.namespace": "gateways", "workers.rollout.gateway.dataPlaneNamespace": "envoy-gateway-system", "workers.rollout.hostnames[0]": "llm.example.com" }));
    expect(gw.filter((o) => !validateObject(o)).map((o) => o.kind)).toEqual([]);
    expect(envOf(gw)).toMatchObject({ ROLLOUT_TRAFFIC_PROVIDER: "gateway-api", GATEWAY_API_PARENT_NAME: "public", GATEWAY_API_PARENT_NAMESPACE: "gateways", GATEWAY_API_HOSTNAMES: "llm.example.com" });
    for (const role of gw.filter((o) => o.kind === "Role")) {
      expect(role.rules).toContainEqual({ apiGroups: ["gateway.networking.k8s.io"], resources: ["httproutes"], verbs: ["create", "get", "update"] });
      expect(role.rules).toContainEqual({ apiGroups: [""], resources: ["services"], verbs: ["create", "get", "list", "watch", "update", "delete"] });
    }
    const policy = gw.find((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === "loraplane-prod")!;
    expect((policy.spec as { ingress: unknown[] }).ingress).toContainEqual({ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "envoy-gateway-system" } } }], ports: [{ protocol: "TCP", port: 8000 }] });
  });

  it("caps nvidia.com/gpu per managed namespace with a ResourceQuota", () => {
    const quotas = Object.fromEntries(
      defaults.filter((o) => o.kind === "ResourceQuota").map((q) => [q.metadata.namespace, (q.spec as { hard: Record<string, string> }).hard]),
    );
    expect(quotas).toEqual({
      "loraplane-jobs": { "requests.nvidia.com/gpu": "8" },
      "loraplane-dev": { "requests.nvidia.com/gpu": "1" },
      "loraplane-staging": { "requests.nvidia.com/gpu": "2" },
      "loraplane-prod": { "requests.nvidia.com/gpu": "8" },
    });
    const noDevQuota = parseManifests(renderChart({ ...BASE, "namespaces.environments[0].name": "loraplane-dev", "namespaces.environments[0].gpuQuota": "0" }));
    expect(noDevQuota.some((o) => o.kind === "ResourceQuota" && o.metadata.namespace === "loraplane-dev")).toBe(false);
  });

  it("points at external Postgres/Redis by default and bundles them on request", () => {
    expect(defaults.some((o) => o.kind === "StatefulSet")).toBe(false);
    const sets = bundled.filter((o) => o.kind === "StatefulSet").map((o) => o.metadata.name).sort();
    expect(sets).toEqual(["lp-loraplane-postgresql", "lp-loraplane-redis"]);
    const env = podSpec(find(bundled, "Deployment", "lp-loraplane-workers")).containers[0]!.env!;
    expect(env.find((e) => e.name === "DATABASE_URL")!.value).toBe("postgresql://postgres:$(POSTGRES_PASSWORD)@lp-loraplane-postgresql:5432/loraplane");
    // Kubernetes expands $(VAR) only from variables defined earlier in the list.
    expect(env.findIndex((e) => e.name === "POSTGRES_PASSWORD")).toBeLessThan(env.findIndex((e) => e.name === "DATABASE_URL"));
    expect(env.find((e) => e.name === "REDIS_URL")!.value).toBe("redis://lp-loraplane-redis:6379");
  });

  it("renders ServiceMonitors that select the component Services and name existing ports", () => {
    const monitors = bundled.filter((o) => o.kind === "ServiceMonitor");
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual(["lp-loraplane-gateway", "lp-loraplane-web", "lp-loraplane-workers"]);
    for (const monitor of monitors) {
      expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
      const service = bundled.find(
        (o) => o.kind === "Service" && Object.entries(spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v),
      );
      expect(service, monitor.metadata.name).toBeDefined();
      const ports = (service!.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
      expect(ports).toContain(spec.endpoints[0]!.port);
      expect(spec.endpoints[0]!.path).toMatch(/metrics$/);
      // Web and gateway refuse a scrape without the token; the monitor presents it and the pod reads the same key.
      const component = monitor.metadata.labels!["app.kubernetes.io/component"];
      if (component === "workers") continue;
      const bearer = (spec.endpoints[0] as { bearerTokenSecret?: { name: string; key: string } }).bearerTokenSecret;
      expect(bearer, monitor.metadata.name).toEqual({ name: expect.any(String), key: "METRICS_TOKEN" });
      const deployment = bundled.find((o) => o.kind === "Deployment" && o.metadata.labels?.["app.kubernetes.io/component"] === component)!;
      const env = (deployment.spec as { template: { spec: { containers: { env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] } } }).template.spec.containers[0]!.env;
      const tokenVar = env.find((e) => e.name === (component === "web" ? "METRICS_TOKEN" : "GATEWAY_METRICS_TOKEN"));
      expect(tokenVar?.valueFrom?.secretKeyRef).toEqual(bearer);
      // The gateway presents the serving key to vLLM from the same Secret the workers and vLLM read.
      if (component === "gateway") expect(env.find((e) => e.name === "SERVING_API_KEY")?.valueFrom?.secretKeyRef).toEqual({ name: expect.any(String), key: "api-key" });
    }
  });
});
