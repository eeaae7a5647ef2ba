// The rollout controller: every tick it checks approvals, analyses progressing deployments (decisions are the pure
// functions of @loraplane/core, applied by @loraplane/services), smoke-tests blue-green candidates, brings serving
// backends up for pending deployments and scales down variants that no longer take traffic. Everything it needs is in
// Postgres, so any worker can run any tick and a restarted worker continues where the last one stopped.
import {
  type Db,
  findEnvironmentForDeploy,
  findLatestRolloutEvent,
  findModelVersionForDeploy,
  findServingInstance,
  isServedNameInUse,
  listDeploymentsInStates,
  listVariantsToScaleDown,
  updateServingInstance,
  updateVariant,
  upsertServingInstance,
  type TDeploymentRow,
} from "@loraplane/db";
import {
  analyseDeployment,
  builtinTrafficProvider,
  checkDeploymentApproval,
  listTrafficTargets,
  markNewVariantFailed,
  markNewVariantReady,
  newVariant,
  parsePolicy,
  recordSmokeTest,
  syncTraffic,
  tickReleases,
  type TDeploymentDeps,
  type TTrafficProvider,
} from "@loraplane/services";
import type { Logger } from "pino";
import type { TServingBackend } from "../serving/types.ts";

export interface TRolloutControllerOptions {
  deps: TDeploymentDeps;
  backends: Partial<Record<"local" | "kubernetes", TServingBackend>>;
  /** Where the split is carried out (ROLLOUT_TRAFFIC_PROVIDER): our gateway's routing table unless set. */
  traffic?: TTrafficProvider;
  log: Logger;
  /**
   * A variant that stopped taking traffic (drained after a promotion, or failed by a rollback) keeps its adapter this
   * long: gateways apply the routing change asynchronously (NOTIFY, then a reload) and requests already dispatched to
   * it must finish. Unloading sooner fails them (serve answers 404 for the name, or 500 to a request still queued).
   */
  drainMs?: number;
  signal?: AbortSignal;
  /** SERVING_API_KEY: the bearer token vLLM / serve require, sent with the blue-green smoke-test completions. */
  servingApiKey?: string | undefined;
}

export interface TRolloutController {
  tick(): Promise<{ analysed: number; decisions: string[] }>;
  analyse(deploymentId: string): Promise<void>;
}

export function createRolloutController(o: TRolloutControllerOptions): TRolloutController {
  const { deps, log } = o;
  const db: Db = deps.db;
  const drainMs = o.drainMs ?? 30_000;
  const traffic = o.traffic ?? builtinTrafficProvider(db);

  function backendFor(kind: string): TServingBackend {
    const b = o.backends[kind === "kubernetes" ? "kubernetes" : "local"];
    if (!b) throw new Error(`no ${kind} serving backend configured in this worker`);
    return b;
  }

  /** Starts (or re-attaches to) the base model's backend and loads the new version's adapter onto it. */
  async function bringUp(d: TDeploymentRow): Promise<void> {
    const variant = newVariant(d);
    const [env, version] = await Promise.all([findEnvironmentForDeploy(db, d.environmentId), findModelVersionForDeploy(db, variant.modelVersionId)]);
    if (!env || !version) throw new Error("environment or model version vanished");
    if (!version.adapterArtifact) throw new Error(`model version ${version.modelName} v${version.version} has no adapter artifact`);
    const backend = backendFor(env.servingBackend);
    const row = await findServingInstance(db, env.id, version.baseModel);
    const existing = row?.externalId ? { url: row.url, externalId: row.externalId } : null;
    const ref = await backend.ensure({ environmentId: env.id, namespace: env.namespace, baseModel: version.baseModel }, existing, o.signal);
    const instance = await upsertServingInstance(db, { environmentId: env.id, baseModel: version.baseModel, kind: backend.kind, url: ref.url, externalId: ref.externalId, status: "ready" });
    // A replaced process lost its adapters; the row must not claim otherwise.
    const adapters = existing && existing.externalId === ref.externalId ? instance.adapters : [];
    // Still loaded on this very process (e.g. the last known good version, restored while its drain runs): reused,
    // since a second load of the same name is refused. Scale-down never unloads a name a live variant still uses.
    if (!adapters.includes(variant.servedModelName)) {
      await backend.loadAdapter(ref, variant.servedModelName, version.adapterArtifact.uri, version.adapterArtifact.sha256);
    }
    await updateServingInstance(db, instance.id, { adapters: [...new Set([...adapters, variant.servedModelName])] });
    await markNewVariantReady(deps, { deploymentId: d.id, upstreamUrl: ref.url, detail: `${backend.kind} ${ref.externalId}, adapter ${variant.servedModelName}` });
  }

  /** A few real completions against green before it gets any traffic. */
  async function smokeTest(d: TDeploymentRow): Promise<{ passed: boolean; detail: string }> {
    const v = newVariant(d);
    const n = Math.max(1, parsePolicy(d).blueGreen.smokeRequests);
    for (let i = 0; i < n; i++) {
      try {
        const res = await fetch(`${v.upstreamUrl}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(o.servingApiKey ? { authorization: `Bearer ${o.servingApiKey}` } : {}) },
          body: JSON.stringify({ model: v.servedModelName, prompt: "ping", max_tokens: 4, temperature: 0 }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json().catch(() => null)) as { choices?: unknown[] } | null;
        if (!res.ok || !Array.isArray(body?.choices)) return { passed: false, detail: `request ${i + 1}/${n}: HTTP ${res.status}` };
      } catch (error) {
        return { passed: false, detail: `request ${i + 1}/${n}: ${(error as Error).message}` };
      }
    }
    return { passed: true, detail: `${n}/${n} completions from ${v.servedModelName}` };
  }

  async function analyseOne(d: TDeploymentRow): Promise<string> {
    let smoke: { passed: boolean; detail: string } | null = null;
    if (d.strategy === "blue_green" && d.currentStep === 0 && !(await findLatestRolloutEvent(db, d.id, "smoke_test"))) {
      smoke = await smokeTest(d);
      await recordSmokeTest(deps, { deploymentId: d.id, ...smoke });
    }
    const out = await analyseDeployment(deps, d, { smoke });
    if (out.decision.action !== "wait") log.info({ deploymentId: d.id, decision: out.decision }, "rollout decision");
    return out.decision.action;
  }

  /**
   * Every routed endpoint's data plane is brought to the weights Postgres records (decisions of this tick included);
   * for the builtin provider that is already so, for gateway-api this writes the HTTPRoute and puts back hand edits.
   */
  async function syncAllTraffic(): Promise<void> {
    for (const target of await listTrafficTargets(db)) {
      try {
        const out = await syncTraffic(db, traffic, target);
        if (out.drift.length > 0) log.warn({ deploymentId: target.deploymentId, drift: out.drift }, "traffic drift corrected");
        else if (out.changed) log.info({ deploymentId: target.deploymentId, detail: out.detail }, "traffic applied");
      } catch (error) {
        log.error({ deploymentId: target.deploymentId, provider: traffic.kind, err: (error as Error).message }, "traffic sync failed; retried next tick");
      }
    }
  }

  async function scaleDown(): Promise<void> {
    const now = Date.now();
    for (const v of await listVariantsToScaleDown(db)) {
      // Drained and failed alike: the variant left routing at updatedAt (its weight went to 0 then).
      if (now - v.updatedAt.getTime() < drainMs) continue;
      const instance = await findServingInstance(db, v.deployment.environmentId, v.modelVersion.baseModel);
      if (instance && instance.externalId && instance.adapters.includes(v.servedModelName)) {
        if (await isServedNameInUse(db, v.deployment.environmentId, v.servedModelName, v.id)) continue;
        await backendFor(instance.kind).unloadAdapter({ url: instance.url, externalId: instance.externalId }, v.servedModelName);
        await updateServingInstance(db, instance.id, { adapters: instance.adapters.filter((a) => a !== v.servedModelName) });
        log.info({ variantId: v.id, adapter: v.servedModelName }, "adapter unloaded");
      }
      if (v.status === "draining") await updateVariant(db, v.id, { status: "retired" });
    }
  }

  return {
    async tick() {
      const decisions: string[] = [];
      for (const d of await listDeploymentsInStates(db, ["awaiting_approval"])) await checkDeploymentApproval(deps, d.id);
      const progressing = await listDeploymentsInStates(db, ["progressing"]);
      for (const d of progressing) {
        try {
          decisions.push(await analyseOne(d));
        } catch (error) {
          log.error({ deploymentId: d.id, err: (error as Error).message }, "analysis failed");
        }
      }
      for (const d of await listDeploymentsInStates(db, ["pending"])) {
        try {
          await bringUp(d);
        } catch (error) {
          log.error({ deploymentId: d.id, err: (error as Error).message }, "serving backend failed");
          await markNewVariantFailed(deps, { deploymentId: d.id, error: (error as Error).message });
        }
      }
      await syncAllTraffic().catch((error: unknown) => log.error({ err: (error as Error).message }, "traffic sync failed"));
      // Releases follow their deployments (and start the next environment's) in the same cluster-wide tick.
      await tickReleases(deps, log).catch((error: unknown) => log.error({ err: (error as Error).message }, "release tick failed"));
      try {
        await scaleDown();
      } catch (error) {
        log.warn({ err: (error as Error).message }, "scale-down failed; retried next tick");
      }
      return { analysed: progressing.length, decisions };
    },
    async analyse(deploymentId) {
      const [d] = (await listDeploymentsInStates(db, ["progressing"])).filter((x) => x.id === deploymentId);
      if (d) await analyseOne(d);
    },
  };
}
