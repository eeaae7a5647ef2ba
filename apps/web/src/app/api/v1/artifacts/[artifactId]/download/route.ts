import { downloadArtifactRoute } from "@/server/routes/runs";

export const GET = downloadArtifactRoute.handler;
