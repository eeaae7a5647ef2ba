import { unfreezeEnvironmentRoute } from "@/server/routes/releases";

export const POST = unfreezeEnvironmentRoute.handler;
