export { API_SCOPES, scopeGrants, type TScope } from "./scopes.ts";
export {
  authenticateApiToken,
  createApiToken,
  getApiToken,
  hashTokenSecret,
  listApiTokens,
  looksLikeApiToken,
  revokeApiToken,
  type TTokenIdentity,
} from "./tokens.ts";
