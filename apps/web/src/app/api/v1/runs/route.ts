import { listRunsRoute } from "@/server/routes/runs";

export const GET = listRunsRoute.handler;
