import { createEnvironmentRoute, listEnvironmentsRoute } from "@/server/routes/projects";

export const GET = listEnvironmentsRoute.handler;
export const POST = createEnvironmentRoute.handler;
