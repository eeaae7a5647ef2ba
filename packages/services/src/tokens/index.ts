export { API_SCOPES, scopeGrants, type TScope } from "./scopes.ts";
export {
  authenticateApiToken,
  checkTokenMinting,
  createApiToken,
  getApiToken,
  hashTokenSecret,
  listApiTokens,
  looksLikeApiToken,
  revokeApiToken,
  tokenVisibleTo,
  type TTokenIdentity,
} from "./tokens.ts";
