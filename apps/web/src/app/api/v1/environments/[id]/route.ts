import { updateEnvironmentRoute } from "@/server/routes/projects";

export const PATCH = updateEnvironmentRoute.handler;
