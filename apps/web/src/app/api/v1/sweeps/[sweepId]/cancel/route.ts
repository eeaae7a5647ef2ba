import { cancelSweepRoute } from "@/server/routes/sweeps";

export const POST = cancelSweepRoute.handler;
