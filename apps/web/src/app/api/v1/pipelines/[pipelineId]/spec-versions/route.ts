import { listPipelineSpecVersionsRoute } from "@/server/routes/projects";

export const GET = listPipelineSpecVersionsRoute.handler;
