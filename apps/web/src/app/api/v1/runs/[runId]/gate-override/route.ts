import { gateOverrideRoute } from "@/server/routes/runs";

export const POST = gateOverrideRoute.handler;
