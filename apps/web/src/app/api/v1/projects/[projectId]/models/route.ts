import { listModelsRoute } from "@/server/routes/registry";

export const GET = listModelsRoute.handler;
