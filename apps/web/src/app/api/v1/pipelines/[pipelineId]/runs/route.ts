import { triggerRunRoute } from "@/server/routes/runs";

export const POST = triggerRunRoute.handler;
