import { approveReleaseStageRoute } from "@/server/routes/releases";

export const POST = approveReleaseStageRoute.handler;
