// Static checks of docker-compose.yml and the Dockerfiles it builds (fast, in `npm test`). Running the stack for real
// is deploy/test/compose-e2e.sh (needs a Docker engine, builds images, trains a model: minutes, not in npm test).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { unknownEnv } from "./k8s.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; network?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  networks?: unknown;
  network_mode?: string;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  volumes?: string[];
}
const composeText = readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks?: unknown;
};
const services = compose.services;
// Which config schema each Node service's process validates its environment with.
const PROCESS_OF: Record<string, string> = { web: "web", workers: "workers", gateway: "gateway", bootstrap: "workers" };

function dockerfileOf(service: Service): string {
  return path.join(ROOT, service.build!.context, service.build!.dockerfile ?? "Dockerfile");
}
const built = Object.entries(services).filter(([, s]) => s.build);

/** Source paths of COPY instructions that copy from the build context (not --from another stage). */
function copySources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of readFileSync(dockerfile, "utf8").split("\n")) {
    const match = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
    if (!match) continue;
    const parts = match[1]!.split(/\s+/).filter((p) => !p.startsWith("--"));
    sources.push(...parts.slice(0, -1));
  }
  return sources;
}

/** Repository files named in a command line (scripts the container runs). */
function scriptPaths(args: string[]): string[] {
  return args.flatMap((arg) => [...arg.matchAll(/(?:^|\s)((?:apps|packages|workers|scripts)\/[\w./-]+\.(?:ts|mjs|js))/g)].map((m) => m[1]!));
}

/** `${NAME:-default}` references in a string: [name, default]. */
function varDefaults(value: string): [string, string][] {
  return [...value.matchAll(/\$\{(\w+):-([^}]*)\}/g)].map((m) => [m[1]!, m[2]!]);
}

describe("docker-compose.yml", () => {
  it("has the whole stack", () => {
    expect(Object.keys(services).sort()).toEqual(["bootstrap", "gateway", "gpu-runtime-serve", "postgres", "redis", "web", "workers"].sort());
    // The optional standalone server is not part of a plain `docker-compose up`.
    expect(services["gpu-runtime-serve"]!.profiles).toEqual(["serve"]);
  });

  it("builds every image from a Dockerfile in the repo — nothing is pulled from a registry", () => {
    const builtImages = new Set(built.map(([, s]) => s.image));
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).toMatch(/^loraplane\//);
      if (service.build) {
        expect(existsSync(path.join(ROOT, service.build.context)), `${name} context`).toBe(true);
        expect(existsSync(dockerfileOf(service)), `${name} Dockerfile`).toBe(true);
      } else {
        expect(builtImages.has(service.image), `${name} uses ${service.image}, which no service builds`).toBe(true);
      }
    }
  });

  it("runs every container on the host network and creates no network", () => {
    expect(compose.networks).toBeUndefined();
    for (const [name, service] of Object.entries(services)) {
      expect(service.network_mode, name).toBe("host");
      expect(service.ports, `${name}: ports are meaningless with host networking`).toBeUndefined();
      expect(service.networks, name).toBeUndefined();
      if (service.build) expect(service.build.network, `${name}: builds use the host network too`).toBe("host");
    }
  });

  it("takes every listening port from the environment, with distinct defaults", () => {
    const portVars = new Map<string, string>();
    for (const [name, v] of varDefaults(composeText)) {
      if (!name.endsWith("_PORT")) continue;
      expect(portVars.get(name) ?? v, `${name} has one default`).toBe(v);
      portVars.set(name, v);
    }
    expect(Object.fromEntries(portVars)).toEqual({
      POSTGRES_PORT: "5432",
      REDIS_PORT: "6379",
      WEB_PORT: "3000",
      GATEWAY_PORT: "8080",
      WORKER_HEALTH_PORT: "9464",
      SERVE_PORT: "8000",
    });
    // Each server is told its port, and its clients and health check use the same variable.
    expect(services.postgres!.environment!.POSTGRES_PORT).toBe("${POSTGRES_PORT:-5432}");
    expect(services.redis!.environment!.REDIS_PORT).toBe("${REDIS_PORT:-6379}");
    expect(services.web!.environment!.DATABASE_URL).toContain("@127.0.0.1:${POSTGRES_PORT:-5432}/");
    expect(services.web!.environment!.REDIS_URL).toContain("@127.0.0.1:${REDIS_PORT:-6379}");
    expect(services.web!.environment!.WEB_PORT).toBe("${WEB_PORT:-3000}");
    expect(services.gateway!.environment!.GATEWAY_PORT).toBe("${GATEWAY_PORT:-8080}");
    expect(services.workers!.environment!.WORKER_HEALTH_PORT).toBe("${WORKER_HEALTH_PORT:-9464}");
    const healthPorts: [string, string][] = [["postgres", "POSTGRES_PORT"], ["redis", "REDIS_PORT"], ["web", "WEB_PORT"], ["gateway", "GATEWAY_PORT"], ["workers", "WORKER_HEALTH_PORT"]];
    for (const [name, variable] of healthPorts) {
      expect(services[name]!.healthcheck!.test.join(" "), name).toMatch(new RegExp(`(\\$\\$${variable}|process\\.env\\.${variable})`));
    }
    // Loopback unless the operator exposes them.
    expect(services.web!.environment!.WEB_HOST).toBe("${WEB_HOST:-127.0.0.1}");
    expect(services.gateway!.environment!.GATEWAY_HOST).toBe("${GATEWAY_HOST:-127.0.0.1}");
  });

  it("copies only files that exist into the images", () => {
    const dockerfiles = new Map<string, string>();
    for (const [, s] of built) dockerfiles.set(dockerfileOf(s), path.join(ROOT, s.build!.context));
    expect(dockerfiles.size).toBe(5);
    for (const [dockerfile, context] of dockerfiles) {
      for (const source of copySources(dockerfile)) {
        expect(existsSync(path.join(context, source)), `${path.relative(ROOT, dockerfile)}: COPY ${source}`).toBe(true);
      }
    }
  });

  it("builds offline: base images, npm registry and wheel index are build arguments the compose file passes", () => {
    for (const [name, service] of built) {
      const text = readFileSync(dockerfileOf(service), "utf8");
      expect(text, `${name}: no BuildKit frontend to pull`).not.toMatch(/^#\s*syntax=/m);
      const declared = new Set([...text.matchAll(/^ARG (\w+)/gm)].map((m) => m[1]!));
      const stages = new Set([...text.matchAll(/^FROM \S+ AS (\w+)/gim)].map((m) => m[1]!));
      for (const [, from] of text.matchAll(/^FROM (\S+)/gm)) {
        // Every stage starts from an argument (a locally built base by default) or from an earlier stage.
        const arg = /^\$\{(\w+)\}$/.exec(from!)?.[1];
        if (arg) expect(declared.has(arg), `${name}: FROM \${${arg}} without ARG`).toBe(true);
        else expect(stages.has(from!), `${name}: FROM ${from} is neither an argument nor a stage`).toBe(true);
      }
      for (const [arg, value] of Object.entries(service.build!.args ?? {})) {
        expect(declared.has(arg), `${name}: build arg ${arg} is not declared in the Dockerfile`).toBe(true);
        // Overridable from the environment, defaulting to what the Dockerfile defaults to.
        const [[variable, fallback]] = varDefaults(value) as [[string, string]];
        expect(variable, `${name}.${arg}`).toBe(arg);
        const dockerfileDefault = new RegExp(`^ARG ${arg}=(.*)$`, "m").exec(text)?.[1] ?? "";
        expect(fallback, `${name}.${arg} default`).toBe(dockerfileDefault);
      }
    }
    const args = (name: string) => Object.keys(services[name]!.build!.args ?? {}).sort();
    for (const name of ["web", "gateway"]) expect(args(name)).toEqual(["NODE_BASE_IMAGE", "NPM_CONFIG_REGISTRY"]);
    expect(args("workers")).toEqual(["NODE_BASE_IMAGE", "NPM_CONFIG_REGISTRY", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PYTHON_BASE_IMAGE"]);
    for (const name of ["postgres", "redis"]) expect(args(name)).toEqual(["DEBIAN_IMAGE"]);
    // build.sh passes the same arguments (and serves the local wheel mirror for the PIP_ ones).
    const buildSh = readFileSync(path.join(ROOT, "deploy/docker/build.sh"), "utf8");
    for (const arg of new Set(built.filter(([n]) => ["web", "workers", "gateway"].includes(n)).flatMap(([n]) => args(n)))) expect(buildSh, arg).toContain(arg);
    expect(buildSh).toContain("DOCKER_BUILDKIT=0");
  });

  it("runs commands and entry points that exist", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const file of scriptPaths(service.command ?? [])) expect(existsSync(path.join(ROOT, file)), `${name}: ${file}`).toBe(true);
    }
    for (const file of ["web", "workers", "gateway"]) {
      const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(ROOT, "deploy/docker", `${file}.Dockerfile`), "utf8"))![1]!;
      const paths = scriptPaths(JSON.parse(cmd) as string[]);
      expect(paths.length, file).toBeGreaterThan(0);
      for (const p of paths) expect(existsSync(path.join(ROOT, p)), `${file}: ${p}`).toBe(true);
    }
    // web applies the migrations before it serves.
    expect(readFileSync(path.join(ROOT, "deploy/docker/web.Dockerfile"), "utf8")).toMatch(/^CMD .*packages\/db\/src\/migrate\/cli\.ts && exec .*next start/m);
    const serve = services["gpu-runtime-serve"]!.command!.join(" ");
    const cli = readFileSync(path.join(ROOT, "gpu-runtime/loraplane_runtime/cli.py"), "utf8");
    for (const [flag] of serve.matchAll(/--[a-z][\w-]*/g)) expect(cli, flag).toContain(`"${flag}"`);
  });

  it("sets only variables each process's config schema knows", () => {
    for (const [name, processName] of Object.entries(PROCESS_OF)) {
      const env = Object.entries(services[name]!.environment ?? {}).map(([k, v]) => ({ name: k, value: String(v) }));
      expect(env.length, name).toBeGreaterThan(0);
      // The image's own CMD may read a variable too (web: `next start -H "${WEB_HOST}"`).
      const dockerfile = path.join(ROOT, "deploy/docker", `${name === "bootstrap" ? "workers" : name}.Dockerfile`);
      const cmd = /^CMD (.*)$/m.exec(readFileSync(dockerfile, "utf8"))![1]!;
      expect(unknownEnv(processName, env).filter((v) => !cmd.includes(`\${${v}`)), name).toEqual([]);
    }
    expect(services.web!.environment!.NEXTAUTH_SECRET).toMatch(/^\$\{NEXTAUTH_SECRET:\?/);
  });

  it("never ships a default password", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|SECRET/.test(key)) expect(String(value), `${name}.${key}`).toMatch(/^\$\{[A-Z_]+:\?/);
        if (key === "DATABASE_URL") expect(value).toContain("${POSTGRES_PASSWORD:?");
        if (key === "REDIS_URL") expect(value).toContain("${REDIS_PASSWORD:?");
      }
    }
    // No `${SECRET:-fallback}` anywhere, and the servers themselves refuse to start without one.
    expect(composeText).not.toMatch(/\$\{\w*(PASSWORD|SECRET)\w*:-/);
    expect(readFileSync(path.join(ROOT, "deploy/docker/base/postgres-entrypoint.sh"), "utf8")).toContain('${POSTGRES_PASSWORD:?');
    // Redis gets its password on stdin, not in argv (readable by every user of the host).
    expect(services.redis!.command!.join(" ")).toMatch(/requirepass.*\| exec redis-server - /);
  });

  it("orders start-up with depends_on conditions that can be met", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        const dep = services[target];
        expect(dep, `${name} depends on missing ${target}`).toBeDefined();
        if (condition === "service_healthy") expect(dep!.healthcheck, `${target} needs a healthcheck`).toBeDefined();
        else if (condition === "service_completed_successfully") expect(dep!.restart, `${target} must be one-shot`).toBe("no");
        else throw new Error(`${name}: unexpected condition ${condition}`);
      }
    }
    // web migrates on start and is healthy only once /api/ready answers; everything else that uses the database
    // waits for it (directly or through bootstrap).
    expect(Object.keys(services.web!.depends_on!).sort()).toEqual(["postgres", "redis"]);
    const waitsForWeb = (name: string): boolean => {
      const deps = Object.keys(services[name]!.depends_on ?? {});
      return deps.includes("web") || deps.some((d) => d !== name && waitsForWeb(d));
    };
    for (const name of ["gateway", "bootstrap", "workers"]) expect(waitsForWeb(name), name).toBe(true);
    for (const name of ["web", "workers", "gateway", "postgres", "redis", "gpu-runtime-serve"]) {
      expect(services[name]!.healthcheck, name).toBeDefined();
    }
    expect(services.web!.healthcheck!.test.join(" ")).toContain("/api/ready");
  });

  it("declares every named volume it mounts", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!;
        if (!source.startsWith(".") && !source.startsWith("/")) expect(compose.volumes, `${name}: ${source}`).toHaveProperty(source);
      }
    }
  });
});
