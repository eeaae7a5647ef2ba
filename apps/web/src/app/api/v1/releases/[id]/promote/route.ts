import { promoteReleaseRoute } from "@/server/routes/releases";

export const POST = promoteReleaseRoute.handler;
