import { runReviewRoute } from "@/server/routes/runs";

export const GET = runReviewRoute.handler;
