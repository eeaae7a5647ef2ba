import { rejectRoute } from "@/server/routes/deployments";

export const POST = rejectRoute.handler;
