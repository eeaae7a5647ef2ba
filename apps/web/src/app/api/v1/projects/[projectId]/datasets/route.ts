import { createDatasetRoute, listDatasetsRoute } from "@/server/routes/projects";

export const GET = listDatasetsRoute.handler;
export const POST = createDatasetRoute.handler;
