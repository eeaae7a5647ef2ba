import type { Role } from "@loraplane/db";

export const ROLES = ["viewer", "engineer", "approver", "admin"] as const satisfies readonly Role[];
export type TRole = (typeof ROLES)[number];

const rank: Record<TRole, number> = { viewer: 0, engineer: 1, approver: 2, admin: 3 };

/** Roles are ordered: viewer < engineer < approver < admin; each includes what the ones below may do. */
export function roleAtLeast(role: TRole | null | undefined, required: TRole): boolean {
  return role != null && rank[role] >= rank[required];
}
