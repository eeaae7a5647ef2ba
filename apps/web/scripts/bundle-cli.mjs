// `npm run cli:bundle`: the standalone CLI as one ES module for node >= 20 with no dependencies
// (dist/cli/loraplane-cli.mjs), beside a package.json that makes the folder an installable package
// (`npm pack dist/cli` → loraplane-cli-<version>.tgz, `npm install -g` it or publish it as @loraplane/cli).
// The build fails when anything server-side (database, queue, services) would end up in the file.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const WEB = path.resolve(import.meta.dirname, "..");
const outDir = path.resolve(process.argv[2] ?? path.join(WEB, "../../dist/cli"));
const { version } = JSON.parse(readFileSync(path.join(WEB, "package.json"), "utf8"));
const SERVER_ONLY = /(^|\/)(packages\/(db|queue|services|config)\/|node_modules\/(@prisma|prisma|pg|ioredis|bullmq|pino|next|@node-rs)\/)/;

const refuseServerCode = {
  name: "refuse-server-code",
  setup(b) {
    b.onLoad({ filter: /.*/ }, (args) => {
      if (SERVER_ONLY.test(args.path.split(path.sep).join("/"))) {
        return { errors: [{ text: `server-only module in the standalone CLI: ${path.relative(WEB, args.path)}` }] };
      }
      return undefined;
    });
  },
};

mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, "loraplane-cli.mjs");
const result = await build({
  entryPoints: [path.join(WEB, "src/cli/standalone.ts")],
  outfile: file,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  define: { LORAPLANE_CLI_VERSION: JSON.stringify(version) },
  // commander is CommonJS: its require() of node built-ins needs a real require inside an ES module.
  banner: { js: `#!/usr/bin/env node\n// loraplane CLI ${version} (standalone bundle)\nimport { createRequire as __lpCreateRequire } from "node:module";\nconst require = __lpCreateRequire(import.meta.url);` },
  plugins: [refuseServerCode],
});
chmodSync(file, 0o755);
writeFileSync(
  path.join(outDir, "package.json"),
  JSON.stringify(
    {
      name: "@loraplane/cli",
      version,
      description: "Loraplane control plane CLI (standalone: no dependencies)",
      type: "module",
      bin: { loraplane: "loraplane-cli.mjs" },
      files: ["loraplane-cli.mjs"],
      engines: { node: ">=20" },
    },
    null,
    2,
  ) + "\n",
);
const bytes = result.metafile.outputs[path.relative(process.cwd(), file)]?.bytes ?? readFileSync(file).length;
process.stdout.write(`${path.relative(process.cwd(), file)} (${(bytes / 1024).toFixed(0)} KiB, loraplane CLI ${version})\n`);
