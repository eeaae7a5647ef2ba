import { getDatasetRoute } from "@/server/routes/datasets";

export const GET = getDatasetRoute.handler;
