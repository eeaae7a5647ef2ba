import { promoteRoute } from "@/server/routes/deployments";

export const POST = promoteRoute.handler;
