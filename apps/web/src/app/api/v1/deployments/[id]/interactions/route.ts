import { listDeploymentInteractionsRoute } from "@/server/routes/feedback";

export const GET = listDeploymentInteractionsRoute.handler;
