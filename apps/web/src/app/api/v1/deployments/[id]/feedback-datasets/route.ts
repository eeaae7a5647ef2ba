import { createFeedbackDatasetVersionRoute } from "@/server/routes/feedback";

export const POST = createFeedbackDatasetVersionRoute.handler;
