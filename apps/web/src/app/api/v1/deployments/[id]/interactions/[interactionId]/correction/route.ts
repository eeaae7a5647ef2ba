import { correctInteractionRoute } from "@/server/routes/feedback";

export const PUT = correctInteractionRoute.handler;
