import { createDeploymentRoute } from "@/server/routes/deployments";

export const POST = createDeploymentRoute.handler;
