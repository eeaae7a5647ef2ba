import { listMembersRoute, setMembersRoute } from "@/server/routes/projects";

export const GET = listMembersRoute.handler;
export const PUT = setMembersRoute.handler;
