import { retryRunRoute } from "@/server/routes/runs";

export const POST = retryRunRoute.handler;
