// The standalone `loraplane` CLI (`npm run cli:bundle` → dist/cli/loraplane-cli.mjs): one file, node >= 20, no
// dependencies, for CI jobs in other repositories. It holds only the REST commands; the bootstrap commands write to
// the control plane's database directly, so here they only say where to run them.
import { CliError, EXIT } from "./api-client.ts";
import { program, runCli } from "./program.ts";

/** Set by the bundler (the @loraplane/web package version). */
declare const LORAPLANE_CLI_VERSION: string;

program.version(LORAPLANE_CLI_VERSION);
for (const [group, what] of [
  ["user", "users"],
  ["token", "API tokens"],
] as const) {
  program
    .command(group)
    .description(`${what} (bootstrap: not in the standalone CLI)`)
    .command("create")
    .allowUnknownOption()
    .allowExcessArguments()
    .description("not in the standalone CLI: it writes to the control plane's database directly")
    .action(() => {
      throw new CliError(
        `\`${group} create\` writes to the control plane's database directly, so the standalone CLI does not have it: ` +
          `run \`npx loraplane ${group} create …\` where the server runs (a checkout with DATABASE_URL, or inside the web container)` +
          (group === "token" ? ", or create a token in the dashboard (Settings → API tokens)" : ""),
        EXIT.usage,
      );
    });
}
runCli(process.argv);
