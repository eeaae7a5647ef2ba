export { createEnvironment, getEnvironment, listEnvironments, updateEnvironment } from "./environments.ts";
