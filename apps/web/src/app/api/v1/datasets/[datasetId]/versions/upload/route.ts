import { uploadDatasetVersionRoute } from "@/server/routes/datasets";

export const POST = uploadDatasetVersionRoute.handler;
