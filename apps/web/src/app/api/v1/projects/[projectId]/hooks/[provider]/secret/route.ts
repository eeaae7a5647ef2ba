import { rotateInboundSecretRoute } from "@/server/routes/settings";

export const POST = rotateInboundSecretRoute.handler;
