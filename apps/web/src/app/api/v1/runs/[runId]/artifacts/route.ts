import { runArtifactsRoute } from "@/server/routes/runs";

export const GET = runArtifactsRoute.handler;
