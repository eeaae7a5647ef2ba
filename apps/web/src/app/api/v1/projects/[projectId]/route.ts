import { getProjectRoute } from "@/server/routes/projects";

export const GET = getProjectRoute.handler;
