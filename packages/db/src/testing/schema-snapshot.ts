import pg from "pg";

/**
 * A normalised description of a database schema (tables, columns, constraints, indexes, enums), independent of
 * column order, so a database built from migrations compares equal to one built from schema.prisma directly.
 */
export async function schemaSnapshot(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const lines: string[] = [];
    const columns = await client.query(`
      SELECT table_name, column_name, udt_name, is_nullable, coalesce(column_default, '') AS col_default
      FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`);
    for (const r of columns.rows) {
      lines.push(`column ${r.table_name}.${r.column_name} ${r.udt_name} null=${r.is_nullable} default=${r.col_default}`);
    }
    const constraints = await client.query(`
      SELECT t.relname AS table_name, c.conname, pg_get_constraintdef(c.oid) AS def
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'`);
    for (const r of constraints.rows) lines.push(`constraint ${r.table_name}.${r.conname} ${r.def}`);
    const indexes = await client.query(`
      SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`);
    for (const r of indexes.rows) lines.push(`index ${r.indexname} ${r.indexdef}`);
    const enums = await client.query(`
      SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`);
    for (const r of enums.rows) lines.push(`enum ${r.typname} ${r.labels}`);
    return lines.sort();
  } finally {
    await client.end();
  }
}
