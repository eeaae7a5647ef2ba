import { githubHookRoute } from "@/server/routes/ingest";

export const POST = githubHookRoute.handler;
