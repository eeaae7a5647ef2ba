import { gitlabHookRoute } from "@/server/routes/ingest";

export const POST = gitlabHookRoute.handler;
