import { freezeEnvironmentRoute } from "@/server/routes/releases";

export const POST = freezeEnvironmentRoute.handler;
