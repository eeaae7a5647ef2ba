import { reviewSampleRoute } from "@/server/routes/runs";

export const PUT = reviewSampleRoute.handler;
