import { createDatasetVersionRoute, listDatasetVersionsRoute } from "@/server/routes/projects";

export const GET = listDatasetVersionsRoute.handler;
export const POST = createDatasetVersionRoute.handler;
