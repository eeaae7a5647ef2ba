import pg from "pg";
import { type Db, listRoutingDeployments } from "@loraplane/db";
import { buildRoutingTable, environmentFilter, routeKey, type TRoute } from "./routing.ts";
import type { TLogger } from "./log.ts";

export interface TRoutingStoreOptions {
  db: Db;
  databaseUrl: string;
  /** Full reload even without notifications: covers a missed NOTIFY while the listener was reconnecting. */
  resyncMs: number;
  log: TLogger;
  /** `<projectSlug>/<environmentName>` entries (`*` on either side) this gateway serves; empty: every environment. */
  environments?: readonly string[];
}

/**
 * Holds the current routing table. Postgres is the source; NOTIFY loraplane_routing triggers a reload, a periodic
 * resync covers lost notifications, and when Postgres is unreachable the last table keeps serving.
 */
export class RoutingStore {
  private routes = new Map<string, TRoute>();
  private byName = new Map<string, TRoute[]>();
  private readonly serves: ReturnType<typeof environmentFilter>;
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private reloadQueued = false;
  private closed = false;
  loadedAt = 0;
  lastError: string | null = null;
  loads = 0;

  constructor(private readonly options: TRoutingStoreOptions) {
    this.serves = environmentFilter(options.environments ?? []);
  }

  /** The route of one endpoint in one environment of one project. */
  get(projectSlug: string, environmentName: string, endpointName: string): TRoute | undefined {
    return this.routes.get(routeKey(projectSlug, environmentName, endpointName));
  }

  /** Every route with this endpoint name, across the projects and environments this gateway serves. */
  named(endpointName: string): readonly TRoute[] {
    return this.byName.get(endpointName) ?? [];
  }

  /** Whether this gateway serves the environment at all (one gateway per environment is a deployment choice). */
  servesEnvironment(projectSlug: string, environmentName: string): boolean {
    return this.serves === null || this.serves(projectSlug, environmentName);
  }

  all(): TRoute[] {
    return [...this.routes.values()];
  }

  async start(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.reload(), this.options.resyncMs);
    this.timer.unref();
    await this.listen();
  }

  /** Coalesces bursts of notifications: at most one load in flight plus one queued. */
  reload(): Promise<void> {
    if (this.loading) {
      this.reloadQueued = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        const deployments = await listRoutingDeployments(this.options.db);
        const { routes, byName } = buildRoutingTable(deployments, this.serves);
        this.routes = routes;
        this.byName = byName;
        this.loadedAt = Date.now();
        this.lastError = null;
        this.loads++;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.options.log.warn({ err: this.lastError }, "routing reload failed; serving the last table");
      } finally {
        this.loading = null;
        if (this.reloadQueued && !this.closed) {
          this.reloadQueued = false;
          void this.reload();
        }
      }
    })();
    return this.loading;
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    const retry = () => {
      if (this.closed || this.reconnectTimer) return;
      this.listener = null;
      client.removeAllListeners();
      client.end().catch(() => {});
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        void this.listen();
      }, 1000);
      this.reconnectTimer.unref();
    };
    client.on("error", (error) => {
      this.options.log.warn({ err: error.message }, "routing listener lost; reconnecting");
      retry();
    });
    client.on("end", retry);
    client.on("notification", () => void this.reload());
    try {
      await client.connect();
      await client.query("LISTEN loraplane_routing");
      this.listener = client;
      // Changes made while the listener was down were not notified.
      void this.reload();
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, "routing listener could not connect; retrying");
      retry();
    }
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners();
      await l.end().catch(() => {});
    }
    await this.loading;
  }
}
