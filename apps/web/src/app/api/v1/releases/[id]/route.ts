import { getReleaseRoute } from "@/server/routes/releases";

export const GET = getReleaseRoute.handler;
