import { timingSafeEqual } from "node:crypto";
import { serverContext } from "@/server/context";
import { webMetrics } from "@/server/observability/web-metrics";

export const dynamic = "force-dynamic";

function tokenMatches(header: string | null, expected: string): boolean {
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1] ?? "");
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Prometheus scrape endpoint, for a scraper holding METRICS_TOKEN (bearer_token in the scrape config). */
export async function GET(req: Request): Promise<Response> {
  const { env } = serverContext();
  if (!env.METRICS_TOKEN) return Response.json({ error: { code: "not_found", message: "metrics are off: set METRICS_TOKEN to enable /api/metrics" } }, { status: 404 });
  if (!tokenMatches(req.headers.get("authorization"), env.METRICS_TOKEN)) {
    return Response.json({ error: { code: "unauthorized", message: "send 'Authorization: Bearer <METRICS_TOKEN>'" } }, { status: 401 });
  }
  const { registry } = webMetrics();
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
}
