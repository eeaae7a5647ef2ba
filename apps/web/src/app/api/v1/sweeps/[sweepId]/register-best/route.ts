import { registerBestRoute } from "@/server/routes/sweeps";

export const POST = registerBestRoute.handler;
