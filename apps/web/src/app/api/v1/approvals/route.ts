import { listApprovalsRoute } from "@/server/routes/deployments";

export const GET = listApprovalsRoute.handler;
