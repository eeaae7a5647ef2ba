import { runMetricKeysRoute } from "@/server/routes/runs";

export const GET = runMetricKeysRoute.handler;
