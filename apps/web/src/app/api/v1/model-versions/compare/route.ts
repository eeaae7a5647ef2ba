import { compareVersionsRoute } from "@/server/routes/registry";

export const GET = compareVersionsRoute.handler;
