import { getRunRoute } from "@/server/routes/runs";

export const GET = getRunRoute.handler;
