import { getModelVersionRoute } from "@/server/routes/registry";

export const GET = getModelVersionRoute.handler;
