import { resumeRoute } from "@/server/routes/deployments";

export const POST = resumeRoute.handler;
