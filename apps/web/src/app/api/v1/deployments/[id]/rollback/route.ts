import { rollbackRoute } from "@/server/routes/deployments";

export const POST = rollbackRoute.handler;
