import { Prisma } from "../generated/prisma/client.ts";

/** A nullable JSON column's value: absent or null is stored as SQL NULL, not the JSON literal `null`. */
export const jsonOrDbNull = (v: unknown) => (v === undefined || v === null ? Prisma.DbNull : (v as Prisma.InputJsonValue));
