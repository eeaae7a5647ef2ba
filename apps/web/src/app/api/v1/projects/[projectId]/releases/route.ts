import { listReleasesRoute } from "@/server/routes/releases";

export const GET = listReleasesRoute.handler;
