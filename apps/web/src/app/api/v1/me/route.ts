import { meRoute } from "@/server/routes/settings";

export const GET = meRoute.handler;
