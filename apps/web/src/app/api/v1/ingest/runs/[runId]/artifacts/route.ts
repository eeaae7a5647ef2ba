import { ingestArtifactsRoute } from "@/server/routes/ingest";

export const POST = ingestArtifactsRoute.handler;
