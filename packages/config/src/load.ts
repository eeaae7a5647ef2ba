import type { z } from "zod";

export class ConfigError extends Error {
  constructor(
    readonly processName: string,
    readonly problems: string[],
  ) {
    super(`Invalid ${processName} configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses a process's environment against its schema and reports every problem at once, so an operator fixes the
 * whole list in one go instead of one variable per restart.
 */
export function loadConfig<S extends z.ZodType>(
  processName: string,
  schema: S,
  source: Record<string, string | undefined>,
): z.infer<S> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    const value = source[String(issue.path[0])];
    return value === undefined ? `${name}: missing — ${issue.message}` : `${name}: ${issue.message}`;
  });
  throw new ConfigError(processName, problems);
}
