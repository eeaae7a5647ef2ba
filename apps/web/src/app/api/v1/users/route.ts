import { createUserRoute, listUsersRoute } from "@/server/routes/settings";

export const GET = listUsersRoute.handler;
export const POST = createUserRoute.handler;
