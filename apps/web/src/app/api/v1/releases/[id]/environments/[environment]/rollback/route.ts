import { rollbackReleaseStageRoute } from "@/server/routes/releases";

export const POST = rollbackReleaseStageRoute.handler;
