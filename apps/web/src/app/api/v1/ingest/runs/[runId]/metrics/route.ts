import { ingestMetricsRoute } from "@/server/routes/ingest";

export const POST = ingestMetricsRoute.handler;
