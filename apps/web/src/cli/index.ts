// `loraplane` in a checkout of the monorepo (bin/loraplane.mjs): the REST commands plus the bootstrap commands
// (`user create`, `token create`) that write to Postgres directly. The standalone bundle is standalone.ts.
import { loadCliEnv } from "@loraplane/config";
import { createPrismaClient, findProjectById, findProjectBySlug, findUserByEmail } from "@loraplane/db";
import { API_SCOPES, createApiToken, createUser, ROLES, type TRole, type TScope } from "@loraplane/services";
import { InvalidArgumentError, Option } from "commander";
import { CliError, EXIT } from "./api-client.ts";
import { program, runCli } from "./program.ts";

const env = loadCliEnv();
const bootstrapActor = { type: "system" as const, userId: null };

async function withDb<T>(fn: (db: ReturnType<typeof createPrismaClient>) => Promise<T>): Promise<T> {
  const db = createPrismaClient({ url: env.DATABASE_URL, poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.$disconnect();
  }
}

const user = program.command("user").description("users (bootstrap: writes to the database directly)");
user
  .command("create")
  .requiredOption("--email <email>")
  .option("--name <name>")
  .addOption(new Option("--role <role>", "global role").choices(ROLES).default("viewer"))
  .description("create a user; a password is generated and printed once")
  .action(async (o: { email: string; name?: string; role: TRole }) => {
    const result = await withDb((db) => createUser(db, { email: o.email, name: o.name ?? null, role: o.role }, bootstrapActor));
    process.stdout.write(`created ${result.user.email} (${result.user.role})\npassword (shown once): ${result.generatedPassword}\n`);
  });

const token = program.command("token").description("API tokens (bootstrap: writes to the database directly)");
token
  .command("create")
  .requiredOption("--email <email>", "owner of the token")
  .requiredOption("--name <name>")
  .option("--scopes <list>", `comma-separated: ${API_SCOPES.join(", ")}`, "runs:read,runs:write,models:read,deployments:read")
  .option("--project <project>", "restrict the token to one project (id or slug)")
  .option("--expires-days <n>", "expire after n days", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive whole number");
    return n;
  })
  .description("create an API token; the secret is printed once")
  .action(async (o: { email: string; name: string; scopes: string; project?: string; expiresDays?: number }) => {
    const scopes = o.scopes.split(",").map((s) => s.trim());
    const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
    if (unknown.length) throw new CliError(`unknown scope(s): ${unknown.join(", ")}; known: ${API_SCOPES.join(", ")}`, EXIT.usage);
    const secret = await withDb(async (db) => {
      const owner = await findUserByEmail(db, o.email.toLowerCase());
      if (!owner) throw new CliError(`no user ${o.email}; create it with \`loraplane user create\``, EXIT.usage);
      const expiresAt = o.expiresDays ? new Date(Date.now() + o.expiresDays * 86_400_000) : null;
      let projectId: string | null = null;
      if (o.project) {
        const project = (await findProjectById(db, o.project)) ?? (await findProjectBySlug(db, o.project));
        if (!project) throw new CliError(`no project "${o.project}" (by id or slug)`, EXIT.usage);
        projectId = project.id;
      }
      const created = await createApiToken(db, { name: o.name, userId: owner.id, scopes: scopes as TScope[], projectId, expiresAt }, bootstrapActor);
      return created.secret;
    });
    process.stdout.write(`${secret}\n`);
  });

runCli(process.argv);
