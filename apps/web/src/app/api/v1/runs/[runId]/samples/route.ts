import { runSamplesRoute } from "@/server/routes/runs";

export const GET = runSamplesRoute.handler;
