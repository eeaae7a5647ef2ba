import { getSweepRoute } from "@/server/routes/sweeps";

export const GET = getSweepRoute.handler;
