import { createProjectRoute, listProjectsRoute } from "@/server/routes/projects";

export const GET = listProjectsRoute.handler;
export const POST = createProjectRoute.handler;
