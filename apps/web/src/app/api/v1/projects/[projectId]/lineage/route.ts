import { projectLineageRoute } from "@/server/routes/registry";

export const GET = projectLineageRoute.handler;
