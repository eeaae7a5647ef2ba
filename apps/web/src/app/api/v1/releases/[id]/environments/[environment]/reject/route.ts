import { rejectReleaseStageRoute } from "@/server/routes/releases";

export const POST = rejectReleaseStageRoute.handler;
