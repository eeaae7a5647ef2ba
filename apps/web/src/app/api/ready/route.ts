import { checkReadiness } from "@/server/api/readiness";
import { serverContext } from "@/server/context";

export const dynamic = "force-dynamic";

/** Readiness: 200 when the database answers and the authentication path works end to end, else 503 naming the failing check. */
export async function GET() {
  try {
    const { db, env, log } = serverContext();
    const result = await checkReadiness({ db, env });
    if (!result.ready) log.warn({ checks: result.checks }, "not ready");
    // Public endpoint: a failing check says which and how long, not the driver's message (the log has it).
    const checks = result.checks.map(({ error, ...c }) => (error ? { ...c, error: error.startsWith("no answer") ? error : "failed; see the server log" } : c));
    return Response.json({ status: result.ready ? "ready" : "not_ready", checks }, { status: result.ready ? 200 : 503, headers: { "cache-control": "no-store" } });
  } catch (error) {
    // Configuration that cannot even build the server context (bad DATABASE_URL, missing secret) is "not ready".
    console.error("readiness: the server context could not be built", error);
    return Response.json({ status: "not_ready", checks: [], error: "the server is not configured; see the server log" }, { status: 503 });
  }
}
