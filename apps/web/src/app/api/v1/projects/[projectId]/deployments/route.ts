import { listDeploymentsRoute } from "@/server/routes/deployments";

export const GET = listDeploymentsRoute.handler;
