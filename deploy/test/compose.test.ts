// docker-compose.yml cannot be run here (no Docker engine), so everything about it that can be wrong without running
// it is checked: images and Dockerfiles exist and copy files that exist, ports, env, dependency graph, commands.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { unknownEnv } from "./k8s.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  volumes?: string[];
}
const compose = parse(readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
// Which config schema each Node service's process validates its environment with.
const PROCESS_OF: Record<string, string> = { web: "web", workers: "workers", gateway: "gateway", migrate: "migrate", bootstrap: "workers" };

function dockerfileOf(service: Service): string {
  return path.join(ROOT, service.build!.context, service.build!.dockerfile ?? "Dockerfile");
}

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

describe("docker-compose.yml", () => {
  it("has the whole stack", () => {
    expect(Object.keys(services).sort()).toEqual(
      ["bootstrap", "gateway", "gpu-runtime-serve", "migrate", "postgres", "redis", "web", "workers"].sort(),
    );
  });

  it("builds every image from a Dockerfile in the repo, or uses a public one", () => {
    const built = new Set(Object.values(services).filter((s) => s.build).map((s) => s.image));
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        expect(existsSync(path.join(ROOT, service.build.context)), `${name} context`).toBe(true);
        expect(existsSync(dockerfileOf(service)), `${name} Dockerfile`).toBe(true);
      } else {
        expect(service.image, name).toBeDefined();
        // An image of ours without a build must be built by another service of this file.
        if (service.image!.startsWith("loraplane/")) expect(built.has(service.image), `${name} uses ${service.image}`).toBe(true);
      }
    }
  });

  it("copies only files that exist into the images", () => {
    const dockerfiles = new Map<string, string>();
    for (const s of Object.values(services)) if (s.build) dockerfiles.set(dockerfileOf(s), path.join(ROOT, s.build.context));
    expect(dockerfiles.size).toBe(4);
    for (const [dockerfile, context] of dockerfiles) {
      for (const source of copySources(dockerfile)) {
        expect(existsSync(path.join(context, source)), `${path.relative(ROOT, dockerfile)}: COPY ${source}`).toBe(true);
      }
    }
  });

  it("runs commands and entry points that exist", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const arg of service.command ?? []) {
        if (/\.(ts|mjs|js)$/.test(arg)) expect(existsSync(path.join(ROOT, arg)), `${name}: ${arg}`).toBe(true);
      }
    }
    for (const file of ["web", "workers", "gateway"]) {
      const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(ROOT, "deploy/docker", `${file}.Dockerfile`), "utf8"))![1]!;
      for (const arg of JSON.parse(cmd) as string[]) {
        if (/\.(ts|mjs|js)$/.test(arg) || arg.startsWith("apps/")) expect(existsSync(path.join(ROOT, arg)), `${file}: ${arg}`).toBe(true);
      }
    }
    const serve = services["gpu-runtime-serve"]!.command!;
    const cli = readFileSync(path.join(ROOT, "gpu-runtime/loraplane_runtime/cli.py"), "utf8");
    for (const flag of serve.filter((a) => a.startsWith("--"))) expect(cli, flag).toContain(`"${flag}"`);
  });

  it("publishes each host port once", () => {
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => String(p).split(":").slice(-2, -1)[0]));
    expect(hostPorts.sort()).toEqual(["3000", "8000", "8080", "9464"]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("sets only variables each process's config schema knows", () => {
    for (const [name, processName] of Object.entries(PROCESS_OF)) {
      const env = Object.entries(services[name]!.environment ?? {}).map(([k, v]) => ({ name: k, value: String(v) }));
      expect(env.length, name).toBeGreaterThan(0);
      expect(unknownEnv(processName, env), name).toEqual([]);
    }
    expect(services.web!.environment!.NEXTAUTH_SECRET).toMatch(/^\$\{NEXTAUTH_SECRET:\?/);
  });

  it("never ships a default password", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|SECRET/.test(key)) expect(String(value), `${name}.${key}`).toMatch(/^\$\{[A-Z_]+:\?/);
        if (key === "DATABASE_URL") expect(value).toContain("${POSTGRES_PASSWORD:?");
      }
    }
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
    // Nothing that uses the database starts before the migration finished.
    for (const name of ["web", "gateway", "bootstrap"]) {
      const chain = JSON.stringify(services[name]!.depends_on);
      expect(chain, name).toMatch(/migrate|bootstrap/);
    }
    for (const name of ["web", "workers", "gateway", "postgres", "redis", "gpu-runtime-serve"]) {
      expect(services[name]!.healthcheck, name).toBeDefined();
    }
    // web is healthy once the database and the authentication path answer, not merely the process.
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
