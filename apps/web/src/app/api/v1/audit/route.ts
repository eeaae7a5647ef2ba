import { listAuditRoute } from "@/server/routes/settings";

export const GET = listAuditRoute.handler;
