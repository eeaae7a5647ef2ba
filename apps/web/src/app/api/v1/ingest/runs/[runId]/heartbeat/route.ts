import { ingestHeartbeatRoute } from "@/server/routes/ingest";

export const POST = ingestHeartbeatRoute.handler;
