import { compareRunsRoute } from "@/server/routes/sweeps";

export const GET = compareRunsRoute.handler;
