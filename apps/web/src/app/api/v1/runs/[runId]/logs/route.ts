import { runLogsRoute } from "@/server/routes/runs";

export const GET = runLogsRoute.handler;
