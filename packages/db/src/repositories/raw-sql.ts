// Single-statement writes for the dispatch path. Prisma's client engine sends an updateMany as BEGIN, SELECT id,
// UPDATE, COMMIT and an upsert as a read plus an insert in a transaction; these helpers send one statement each.
import { randomBytes } from "node:crypto";
import { Prisma } from "../generated/prisma/client.ts";

/** Postgres type of a column, for the casts of bound parameters (enums are `enum:<TypeName>`). */
export type TColumnType = "text" | "integer" | "double precision" | "timestamp(3)" | "jsonb" | `enum:${string}`;

function castValue(type: TColumnType, value: unknown): Prisma.Sql {
  if (value === null) return Prisma.sql`NULL`;
  if (type === "jsonb") return Prisma.sql`CAST(${JSON.stringify(value)} AS jsonb)`;
  const target = type.startsWith("enum:") ? `"${type.slice(5)}"` : type;
  return Prisma.sql`CAST(${value} AS ${Prisma.raw(target)})`;
}

/** `"col" = value, …` for the defined keys of `data` (unknown keys are refused: no accidental raw column names). */
export function setList(columns: Record<string, TColumnType>, data: Record<string, unknown>): Prisma.Sql[] {
  const parts: Prisma.Sql[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    const type = columns[key];
    if (!type) throw new Error(`no column type for ${key}`);
    parts.push(Prisma.sql`${Prisma.raw(`"${key}"`)} = ${castValue(type, value)}`);
  }
  return parts;
}

/** `"a", "b", …` of a Prisma select object's keys, optionally qualified by a table alias. */
export function columnList(select: Record<string, true>, alias?: string): Prisma.Sql {
  return Prisma.raw(Object.keys(select).map((k) => (alias ? `${alias}."${k}"` : `"${k}"`)).join(", "));
}

/** An id of the same shape as Prisma's cuid() default (25 lowercase alphanumerics starting with c), for raw inserts. */
export function newId(): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const rand = BigInt(`0x${randomBytes(10).toString("hex")}`).toString(36).padStart(16, "0").slice(-15);
  return `c${time}${rand}`;
}
