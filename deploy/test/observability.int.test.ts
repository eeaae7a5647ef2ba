// The dashboard and scrape configs must match what the processes really export and what the database really holds:
// metric names are checked against the metric definitions in the gateway, worker and gpu-runtime sources, and every
// SQL panel is executed against a freshly migrated database.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { useTestDb } from "@loraplane/db/testing";
import { ZGatewayEnv, ZWorkerEnv } from "@loraplane/config";

const ROOT = path.resolve(import.meta.dirname, "../..");
const OBS = path.join(ROOT, "deploy/observability");
const t = useTestDb("observability");

function sourceFiles(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return entry === "node_modules" || entry === "test" ? [] : sourceFiles(full, ext);
    return ext.test(entry) && !/\.test\.ts$/.test(entry) ? [full] : [];
  });
}

/** Series names each process exposes, derived from its metric definitions (histograms expand to _bucket/_sum/_count). */
function exportedSeries(): Set<string> {
  const series = new Set<string>();
  const ts = [
    ...sourceFiles(path.join(ROOT, "apps/gateway/src"), /\.ts$/),
    ...sourceFiles(path.join(ROOT, "workers/src"), /\.ts$/),
    ...sourceFiles(path.join(ROOT, "apps/web/src/server"), /\.ts$/),
  ];
  for (const file of ts) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/new (?:client\.)?(Counter|Gauge|Histogram)\(\{\s*name:\s*"([a-z0-9_:]+)"/g)) {
      const [, type, name] = m;
      series.add(name!);
      if (type === "Histogram") for (const s of ["_bucket", "_sum", "_count"]) series.add(name + s);
    }
  }
  const py = readFileSync(path.join(ROOT, "gpu-runtime/loraplane_runtime/serve.py"), "utf8");
  for (const m of py.matchAll(/(Counter|Gauge|Histogram)\("([a-z0-9_:]+)"/g)) {
    const [, type, name] = m;
    // prometheus_client appends _total to counters.
    series.add(type === "Counter" ? `${name}_total` : name!);
    if (type === "Histogram") for (const s of ["_bucket", "_sum", "_count"]) series.add(name + s);
  }
  return series;
}

const dashboard = JSON.parse(readFileSync(path.join(OBS, "grafana-dashboard.json"), "utf8")) as {
  panels: { title: string; type: string; targets?: { expr?: string; rawSql?: string }[] }[];
  templating: { list: { definition?: string }[] };
  annotations: { list: { target: { rawSql: string } }[] };
};
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((tg) => (tg.expr ? [{ panel: p.title, expr: tg.expr }] : [])));
const sqls = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((tg) => (tg.rawSql ? [{ panel: p.title, sql: tg.rawSql }] : []))),
  ...dashboard.annotations.list.map((a) => ({ panel: "annotation", sql: a.target.rawSql })),
];

const PROMQL_WORDS = new Set(["sum", "by", "rate", "increase", "histogram_quantile", "le", "without", "avg", "max", "min", "count"]);

describe("Grafana dashboard", () => {
  it("has the panels operators need", () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of ["Runs by status", "Queue depth (waiting jobs)", "Latency p50 by variant", "Latency p95 by variant", "Latency p99 by variant", "Rollout events"]) {
      expect(titles).toContain(wanted);
    }
  });

  it("queries only series the gateway, workers and model servers export", () => {
    const exported = exportedSeries();
    expect(exported.has("loraplane_gateway_request_duration_seconds_bucket")).toBe(true);
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of [...exprs, { panel: "variable", expr: dashboard.templating.list[0]!.definition! }]) {
      // Strip label matchers and strings, then every remaining metric-like identifier must be exported.
      const names = expr
        .replace(/\b(by|without) \([^)]*\)/g, "")
        .replace(/\{[^}]*\}/g, "")
        .replace(/"[^"]*"/g, "")
        .match(/[a-z_:][a-z0-9_:]*/g)!
        .filter((w) => (w.includes("_") || w.includes(":")) && !PROMQL_WORDS.has(w) && !/^label_values$/.test(w));
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${panel} uses ${name}`).toContain(name);
    }
  });

  it("runs every SQL panel against the migrated schema", async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      for (const { panel, sql } of sqls) {
        // Grafana's macro, expanded the way its Postgres datasource does for a 6-hour range.
        const query = sql.replace(/\$__timeFilter\(([^)]+)\)/g, "$1 BETWEEN now() - interval '6 hours' AND now()");
        await expect(client.query(query), panel).resolves.toBeDefined();
      }
    } finally {
      await client.end();
    }
    expect(sqls.length).toBeGreaterThanOrEqual(4);
  });
});

describe("scrape configuration", () => {
  it("scrapes the workers and the gateway on their default ports", () => {
    const config = parse(readFileSync(path.join(OBS, "prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs?: { targets: string[] }[] }[];
    };
    const target = (job: string) => config.scrape_configs.find((j) => j.job_name === job)!.static_configs![0]!.targets[0];
    expect(target("loraplane-workers")).toBe(`127.0.0.1:${ZWorkerEnv.parse({}).WORKER_HEALTH_PORT}`);
    expect(target("loraplane-gateway")).toBe(`127.0.0.1:${ZGatewayEnv.shape.GATEWAY_PORT.parse(undefined)}`);
    expect(new Set(config.scrape_configs.map((j) => j.job_name)).size).toBe(config.scrape_configs.length);
  });

  it("ServiceMonitor examples select the chart's labels and ports", () => {
    const docs = parseAllDocuments(readFileSync(path.join(OBS, "servicemonitors.yaml"), "utf8")).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(["ServiceMonitor", "ServiceMonitor", "ServiceMonitor", "PodMonitor"]);
    const ports = docs.slice(0, 3).map((d) => [d.spec.selector.matchLabels["app.kubernetes.io/component"], d.spec.endpoints[0].port, d.spec.endpoints[0].path]);
    expect(ports).toEqual([["workers", "metrics", "/metrics"], ["gateway", "http", "/metrics"], ["web", "http", "/api/metrics"]]);
    // Web and gateway refuse unauthenticated scrapes: their monitors present the token.
    for (const d of docs.slice(1, 3)) expect(d.spec.endpoints[0].bearerTokenSecret).toEqual({ name: "loraplane-secrets", key: "METRICS_TOKEN" });
  });
});
