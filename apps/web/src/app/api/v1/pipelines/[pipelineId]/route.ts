import { deletePipelineRoute, getPipelineRoute, updatePipelineRoute } from "@/server/routes/projects";

export const DELETE = deletePipelineRoute.handler;
export const GET = getPipelineRoute.handler;
export const PATCH = updatePipelineRoute.handler;
