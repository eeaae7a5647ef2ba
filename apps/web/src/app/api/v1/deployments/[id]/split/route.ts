import { splitRoute } from "@/server/routes/deployments";

export const POST = splitRoute.handler;
