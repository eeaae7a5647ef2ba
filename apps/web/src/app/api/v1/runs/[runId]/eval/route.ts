import { runEvalRoute } from "@/server/routes/runs";

export const GET = runEvalRoute.handler;
