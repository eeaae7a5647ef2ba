import { runMetricsRoute } from "@/server/routes/runs";

export const GET = runMetricsRoute.handler;
