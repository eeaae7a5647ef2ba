export { recordAudit, type TActor, type TAuditEntry, type TRequestMeta } from "./record-audit.ts";
export { listAudit, type TAuditFilter } from "./list-audit.ts";
export { redactAuditValue, redactUrl } from "./redact.ts";
