import { updateUserRoute } from "@/server/routes/settings";

export const PATCH = updateUserRoute.handler;
