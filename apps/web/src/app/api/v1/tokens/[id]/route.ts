import { revokeTokenRoute } from "@/server/routes/settings";

export const DELETE = revokeTokenRoute.handler;
