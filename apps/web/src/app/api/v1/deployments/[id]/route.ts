import { getDeploymentRoute } from "@/server/routes/deployments";

export const GET = getDeploymentRoute.handler;
