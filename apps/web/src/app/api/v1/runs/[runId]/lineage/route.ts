import { runLineageRoute } from "@/server/routes/runs";

export const GET = runLineageRoute.handler;
