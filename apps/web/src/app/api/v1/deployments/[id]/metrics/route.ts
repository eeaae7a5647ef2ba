import { deploymentMetricsRoute } from "@/server/routes/deployments";

export const GET = deploymentMetricsRoute.handler;
