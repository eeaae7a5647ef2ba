import { pauseRoute } from "@/server/routes/deployments";

export const POST = pauseRoute.handler;
