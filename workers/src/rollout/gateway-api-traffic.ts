// Traffic provider `gateway-api`: the rollout's split is carried out by the cluster's own gateway (Envoy Gateway,
// Istio, any Gateway API implementation) through one HTTPRoute per (environment, endpoint) in the environment's
// namespace, attached to the Gateway named by GATEWAY_API_PARENT_*.
//
// Ownership: the route may hold rules people added (a mirror, a maintenance redirect). loraplane owns exactly the rules
// whose backendRefs name one of its variant Services (`<route>-<role>`, created here): the weighted split rule (no
// header match) and one pin rule per live variant (header x-loraplane-variant: <role>). Every write keeps the other
// rules as they are, in place. What loraplane last wrote is kept in the route's annotations; when its own rules differ
// from that at the next tick, someone edited them: they are put back and the correction is reported (drift).
//
// Writes are read-modify-replace with the resourceVersion just read; a 409 (the route changed in between) re-reads and
// tries again, so a concurrent edit is never overwritten blindly.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import {
  BASE_ROLES,
  liveVariants,
  PIN_HEADER,
  stableWeights,
  type TTrafficApplied,
  type TTrafficPin,
  type TTrafficProvider,
  type TTrafficTarget,
} from "@loraplane/services";
import {
  pinRule,
  splitRule,
  trafficHttpRoute,
  trafficRouteName,
  variantService,
  variantServiceName,
  vllmInstanceOf,
  type THttpRouteRule,
} from "../serving/kubernetes-manifests.ts";

export interface TGatewayApiTrafficOptions {
  kubeConfig: KubeConfig;
  /** The Gateway the routes attach to (GATEWAY_API_PARENT_NAME / _NAMESPACE / _SECTION). */
  gateway: { name: string; namespace?: string; sectionName?: string };
  /** Hostnames the routes answer (empty: every hostname of the Gateway's listener). */
  hostnames?: string[];
  /** Attempts when the route keeps changing under us (409). */
  maxAttempts?: number;
  /** How long a variant Service found as wanted is trusted before it is read again (default 60 s). */
  serviceRecheckMs?: number;
}

const ROUTE = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" } as const;
const APPLIED_SPLIT = "loraplane.dev/applied-split";
const APPLIED_PINS = "loraplane.dev/applied-pins";

type TRouteObject = ReturnType<HTTPRoute["toJSON"]> & { metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string> } };
const code = (error: unknown) => (error as { code?: number }).code;

/** Comparable form of a rule: the API server fills defaults (group, kind, weight 1, Exact) that we may have omitted. */
function canonical(rule: THttpRouteRule): string {
  const refs = (rule.backendRefs ?? []).map((b) => ({ group: b.group ?? "", kind: b.kind ?? "Service", name: b.name, namespace: b.namespace ?? null, port: b.port ?? null, weight: b.weight ?? 1, filters: b.filters ?? [] }));
  const matches = (rule.matches ?? [{}]).map((m) => ({
    path: { type: m.path?.type ?? "PathPrefix", value: m.path?.value ?? "/" },
    headers: [...(m.headers ?? [])].map((h) => ({ type: h.type ?? "Exact", name: h.name.toLowerCase(), value: h.value })).sort((a, b) => a.name.localeCompare(b.name)),
    queryParams: m.queryParams ?? [],
    method: m.method ?? null,
  }));
  return JSON.stringify({ matches, refs, filters: rule.filters ?? [], timeouts: rule.timeouts ?? null });
}

const isPin = (rule: THttpRouteRule) => (rule.matches ?? []).some((m) => (m.headers ?? []).length > 0);

/** Weights of a split rule as role → weight, for messages. */
function describeSplit(rule: THttpRouteRule | undefined, routeName: string): string {
  if (!rule) return "none";
  return (rule.backendRefs ?? []).map((b) => `${b.name.startsWith(`${routeName}-`) ? b.name.slice(routeName.length + 1) : b.name}=${b.weight ?? 1}`).join(", ");
}

export function gatewayApiTrafficProvider(o: TGatewayApiTrafficOptions): TTrafficProvider {
  const custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const maxAttempts = o.maxAttempts ?? 5;

  /** Services checked recently (namespace/name → what they select): not read again on every 2-second tick. */
  const verified = new Map<string, { key: string; at: number }>();
  const recheckMs = o.serviceRecheckMs ?? 60_000;

  /** One Service per live variant, selecting the vLLM pods that serve it; created or re-pointed when it differs. */
  async function ensureVariantServices(target: TTrafficTarget, routeName: string): Promise<void> {
    for (const v of liveVariants(target)) {
      const instance = vllmInstanceOf(v.upstreamUrl);
      if (!instance) throw new Error(`variant ${v.role} is served at ${v.upstreamUrl}, not by a Kubernetes Service: the gateway-api traffic provider needs the kubernetes serving backend`);
      const svc = variantService({ routeName, namespace: target.namespace, role: v.role, instance, servedModelName: v.servedModelName });
      svc.validate();
      const name = svc.metadata!.name!;
      const cacheKey = `${target.namespace}/${name}`;
      const seen = verified.get(cacheKey);
      if (seen && seen.key === `${instance}\u0000${v.servedModelName}` && Date.now() - seen.at < recheckMs) continue;
      verified.delete(cacheKey);
      try {
        const current = await core.readNamespacedService({ name, namespace: target.namespace });
        const same = current.spec?.selector?.["app.kubernetes.io/instance"] === instance && current.metadata?.annotations?.["loraplane.dev/served-model"] === v.servedModelName;
        if (!same) {
          // clusterIP is immutable: the replace carries the one the Service has.
          const body = { ...(svc.toJSON() as object), metadata: { ...svc.metadata, resourceVersion: current.metadata?.resourceVersion }, spec: { ...svc.spec, ...(current.spec?.clusterIP ? { clusterIP: current.spec.clusterIP } : {}) } };
          await core.replaceNamespacedService({ name, namespace: target.namespace, body: body as never });
        }
      } catch (error) {
        if (code(error) !== 404) throw error;
        await core.createNamespacedService({ namespace: target.namespace, body: svc.toJSON() as never }).catch((e: unknown) => {
          if (code(e) !== 409) throw e;
        });
      }
      verified.set(cacheKey, { key: `${instance}\u0000${v.servedModelName}`, at: Date.now() });
    }
  }

  /** Variant Services of this route that no rule sends traffic to any more (a retired role) are deleted. */
  async function removeUnusedServices(namespace: string, routeName: string, rules: THttpRouteRule[]): Promise<void> {
    const used = new Set(rules.flatMap((r) => (r.backendRefs ?? []).map((b) => b.name)));
    const list = await core.listNamespacedService({ namespace, labelSelector: `loraplane.dev/route=${routeName}` });
    for (const svc of list.items) {
      const svcName = svc.metadata?.name;
      if (!svcName || used.has(svcName)) continue;
      verified.delete(`${namespace}/${svcName}`);
      await core.deleteNamespacedService({ name: svcName, namespace }).catch((e: unknown) => {
        if (code(e) !== 404) throw e;
      });
    }
  }

  /**
   * Makes loraplane's rules say `weights` (split) and/or `pins`, leaving every other rule alone. Returns what it
   * changed and the drift it corrected.
   */
  async function reconcile(target: TTrafficTarget, want: { weights?: Record<string, number>; pins?: TTrafficPin[] }): Promise<TTrafficApplied> {
    const name = trafficRouteName(target.environmentId, target.endpointName);
    const namespace = target.namespace;
    const live = liveVariants(target);
    const svcOf = (role: string) => variantServiceName(name, role);
    // Ours: a rule that sends anything to one of our variant Services (any role, live or not).
    const owned = (rule: THttpRouteRule) => (rule.backendRefs ?? []).some((b) => (b.kind ?? "Service") === "Service" && b.name.startsWith(`${name}-`));
    // No live variant (the endpoint's only version was rolled back): the split rule goes, like our gateway's route.
    const desiredSplit = want.weights ? (live.length > 0 ? [splitRule(live.map((v) => ({ service: svcOf(v.role), weightBps: want.weights![v.role] ?? 0 })))] : []) : null;
    const desiredPins = want.pins ? want.pins.filter((p) => live.some((v) => v.role === p.role)).map((p) => pinRule({ header: p.header, value: p.value, service: svcOf(p.role) })) : null;

    await ensureVariantServices(target, name);
    for (let attempt = 1; ; attempt++) {
      let current: TRouteObject | null = null;
      try {
        current = (await custom.getNamespacedCustomObject({ ...ROUTE, namespace, name })) as TRouteObject;
      } catch (error) {
        if (code(error) !== 404) throw error;
      }
      const rules: THttpRouteRule[] = current?.spec?.rules ?? [];
      const annotations = { ...(current?.metadata.annotations ?? {}) };
      const drift: string[] = [];
      const changes: string[] = [];
      const mine = rules.filter(owned);
      let nextMine: { split: THttpRouteRule[]; pins: THttpRouteRule[] } = { split: mine.filter((r) => !isPin(r)), pins: mine.filter(isPin) };

      if (desiredSplit) {
        const have = nextMine.split;
        const last = annotations[APPLIED_SPLIT];
        const haveKey = JSON.stringify(have.map(canonical));
        const wantKey = JSON.stringify(desiredSplit.map(canonical));
        if (haveKey !== wantKey) {
          if (current && last !== undefined && haveKey !== last) drift.push(`split rule edited outside loraplane (${have.length === 1 ? describeSplit(have[0], name) : `${have.length} split rules`}; restored ${describeSplit(desiredSplit[0], name)})`);
          changes.push(`split ${describeSplit(desiredSplit[0], name)}`);
        }
        annotations[APPLIED_SPLIT] = wantKey;
        nextMine = { ...nextMine, split: desiredSplit };
      }
      if (desiredPins) {
        const have = nextMine.pins;
        const last = annotations[APPLIED_PINS];
        const haveKey = JSON.stringify(have.map(canonical).sort());
        const wantKey = JSON.stringify(desiredPins.map(canonical).sort());
        if (haveKey !== wantKey) {
          if (current && last !== undefined && haveKey !== last) drift.push(`pin rules edited outside loraplane (${have.length} found, ${desiredPins.length} restored)`);
          changes.push(`pins ${want.pins!.map((p) => `${p.header}: ${p.value} → ${p.role}`).join(", ") || "none"}`);
        }
        annotations[APPLIED_PINS] = wantKey;
        nextMine = { ...nextMine, pins: desiredPins };
      }
      if (current && changes.length === 0 && annotations[APPLIED_SPLIT] === current.metadata.annotations?.[APPLIED_SPLIT] && annotations[APPLIED_PINS] === current.metadata.annotations?.[APPLIED_PINS]) {
        return { changed: false, drift: [], detail: "" };
      }

      // Nothing of ours to put on a route that does not exist (an endpoint withdrawn before it was ever routed).
      if (!current && nextMine.split.length === 0 && nextMine.pins.length === 0) return { changed: false, drift: [], detail: "" };
      // Rules we do not own stay where they were; ours go where our first one was (or at the end): pins, then split.
      const firstMine = rules.findIndex(owned);
      const others = rules.filter((r) => !owned(r));
      const at = firstMine < 0 ? others.length : rules.slice(0, firstMine).filter((r) => !owned(r)).length;
      const nextRules = [...others.slice(0, at), ...nextMine.pins, ...nextMine.split, ...others.slice(at)];
      const route = trafficHttpRoute({ name, namespace, gateway: o.gateway, ...(o.hostnames ? { hostnames: o.hostnames } : {}), rules: nextRules, annotations });
      if (current) {
        // A person's other edits to the route (hostnames, labels, parentRefs they added) are kept.
        route.metadata = { ...current.metadata, labels: { ...current.metadata.labels, ...route.metadata!.labels }, annotations } as never;
        route.spec = { ...(current.spec ?? {}), rules: nextRules } as never;
      }
      route.validate();
      try {
        if (current) await custom.replaceNamespacedCustomObject({ ...ROUTE, namespace, name, body: route.toJSON() });
        else await custom.createNamespacedCustomObject({ ...ROUTE, namespace, body: route.toJSON() });
      } catch (error) {
        // 409: changed (or created) since we read it. Read again and decide again, rather than overwrite.
        if (code(error) === 409 && attempt < maxAttempts) continue;
        throw error;
      }
      await removeUnusedServices(namespace, name, nextRules);
      return { changed: true, drift, detail: `${current ? "updated" : "created"} HTTPRoute ${namespace}/${name}: ${changes.join("; ") || "annotations"}${attempt > 1 ? ` (after ${attempt - 1} conflict${attempt > 2 ? "s" : ""})` : ""}` };
    }
  }

  return {
    kind: "gateway-api",
    setWeights: (target, weights) => reconcile(target, { weights }),
    pin: (target, pins) => reconcile(target, { pins }),
    // Everything to the base variant and no pin left to the new one, in one write.
    restoreStable: (target) => {
      const base = liveVariants(target).find((v) => BASE_ROLES.has(v.role));
      return reconcile(target, { weights: stableWeights(target), pins: base ? [{ header: PIN_HEADER, value: base.role, role: base.role }] : [] });
    },
    describe: (t) => `HTTPRoute ${t.namespace}/${trafficRouteName(t.environmentId, t.endpointName)} on Gateway ${o.gateway.namespace ? `${o.gateway.namespace}/` : ""}${o.gateway.name}`,
  };
}
