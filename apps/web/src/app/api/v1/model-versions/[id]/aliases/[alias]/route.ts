import { setAliasRoute } from "@/server/routes/registry";

export const PUT = setAliasRoute.handler;
