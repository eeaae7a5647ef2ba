import { previewDatasetRowsRoute } from "@/server/routes/datasets";

export const GET = previewDatasetRowsRoute.handler;
