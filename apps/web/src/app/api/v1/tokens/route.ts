import { createTokenRoute, listTokensRoute } from "@/server/routes/settings";

export const GET = listTokensRoute.handler;
export const POST = createTokenRoute.handler;
