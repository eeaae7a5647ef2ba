import { cancelRunRoute } from "@/server/routes/runs";

export const POST = cancelRunRoute.handler;
