import { approveRoute } from "@/server/routes/deployments";

export const POST = approveRoute.handler;
