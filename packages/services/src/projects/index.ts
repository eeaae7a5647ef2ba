export { createProject, getProject, getProjectRole, listMembers, listProjects, listRolesOfUser, setMembers } from "./projects.ts";
