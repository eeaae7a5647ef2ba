import { createPipelineRoute, listPipelinesRoute } from "@/server/routes/projects";

export const GET = listPipelinesRoute.handler;
export const POST = createPipelineRoute.handler;
