import { validatePipelineRoute } from "@/server/routes/projects";

export const POST = validatePipelineRoute.handler;
