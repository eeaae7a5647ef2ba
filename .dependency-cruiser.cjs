// The allowed dependency direction (ARCHITECTURE.md): core ← {config, db, queue} ← services ← {apps/*, workers}.
// Apps and workers never import each other; core never does I/O.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment: "packages/core is pure domain logic: no I/O libraries and no other workspace package.",
      severity: "error",
      from: { path: "^packages/core/src" },
      to: {
        path: "^(packages/(db|queue|config|services)|apps|workers)/|node_modules/(pg|ioredis|bullmq|@prisma|@kubernetes|next|react|pino|prom-client|undici)/",
      },
    },
    {
      name: "infra-packages-import-core-at-most",
      severity: "error",
      from: { path: "^packages/(db|queue|config)/src" },
      to: { path: "^(packages/services|apps|workers)/" },
    },
    {
      name: "infra-packages-independent",
      comment: "db, queue and config do not import each other (db may read config).",
      severity: "error",
      from: { path: "^packages/(queue|config)/src" },
      to: { path: "^packages/(db|queue|config)/src", pathNot: "^packages/$1/src" },
    },
    {
      name: "services-below-apps",
      severity: "error",
      from: { path: "^packages/services/src" },
      to: { path: "^(apps|workers)/" },
    },
    {
      name: "apps-and-workers-do-not-import-each-other",
      severity: "error",
      from: { path: "^(apps/[^/]+|workers)/" },
      to: { path: "^(apps/[^/]+|workers)/", pathNot: "^$1/" },
    },
    {
      name: "only-repositories-touch-prisma",
      comment: "Prisma's generated client is imported only inside packages/db.",
      severity: "error",
      from: { pathNot: "^packages/db/" },
      to: { path: "^packages/db/src/generated/|node_modules/@prisma/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.next|generated|dist)/" },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".tsx", ".js", ".mjs"] },
  },
};
