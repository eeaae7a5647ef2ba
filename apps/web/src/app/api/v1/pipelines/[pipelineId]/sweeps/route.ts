import { createSweepRoute, listSweepsRoute } from "@/server/routes/sweeps";

export const GET = listSweepsRoute.handler;
export const POST = createSweepRoute.handler;
