// An informer in miniature for the Jobs this worker manages: list once, then watch from the list's resourceVersion and
// keep a map name → Job current. Every watch resumes from the newest resourceVersion seen (events and bookmarks); when
// the server answers 410 Gone (that version was compacted away) the cache re-lists, because events in the gap are lost
// and only a fresh list is authoritative. Callers treat a miss as "unknown" and fall back to a GET.
import { type BatchV1Api, type KubeConfig, type V1Job, Watch } from "@kubernetes/client-node";

interface TWatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

export interface TJobCacheOptions {
  kubeConfig: KubeConfig;
  batch: BatchV1Api;
  namespace: string;
  labelSelector: string;
  /** Delay before reconnecting after a failed watch or list. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export class JobCache {
  private readonly jobs = new Map<string, V1Job>();
  private resourceVersion = "";
  private abort: AbortController | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private startPromise: Promise<void> | null = null;
  /** True once a list has succeeded and the watch has caught up with it. */
  synced = false;
  readonly stats = { lists: 0, watches: 0, expired: 0 };

  constructor(private readonly o: TJobCacheOptions) {}

  /** Starts the list+watch loop once; resolves after the first successful list (rejects if it fails). */
  start(): Promise<void> {
    this.startPromise ??= this.relist().then(() => this.startWatch());
    this.startPromise.catch(() => {
      this.startPromise = null; // the next caller tries again
    });
    return this.startPromise;
  }

  stop(): void {
    this.stopped = true;
    this.synced = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  get(name: string): V1Job | undefined {
    return this.synced ? this.jobs.get(name) : undefined;
  }

  private async relist(): Promise<void> {
    this.synced = false;
    const list = await this.o.batch.listNamespacedJob({ namespace: this.o.namespace, labelSelector: this.o.labelSelector });
    this.stats.lists++;
    this.jobs.clear();
    for (const job of list.items) if (job.metadata?.name) this.jobs.set(job.metadata.name, job);
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    this.synced = true;
  }

  private retry(relist: boolean, delayMs: number): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stopped) return;
      (relist ? this.relist() : Promise.resolve()).then(
        () => this.startWatch(),
        (error: unknown) => {
          this.o.onError?.(error);
          this.retry(true, this.o.retryDelayMs ?? 1000);
        },
      );
    }, delayMs);
  }

  /** Opens the watch in the background: callers never wait on the stream. */
  private startWatch(): void {
    this.watch().catch((error: unknown) => {
      this.o.onError?.(error);
      this.synced = false;
      this.retry(true, this.o.retryDelayMs ?? 1000);
    });
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.stats.watches++;
    let expired = false;
    let ended = false;
    const path = `/apis/batch/v1/namespaces/${encodeURIComponent(this.o.namespace)}/jobs`;
    this.abort = await new Watch(this.o.kubeConfig).watch(
      path,
      { labelSelector: this.o.labelSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
      (type: string, obj: V1Job & TWatchStatus) => {
        if (type === "ERROR") {
          if (obj.code === 410) expired = true;
          else this.o.onError?.(new Error(`watch error: ${obj.code ?? "?"} ${obj.reason ?? ""} ${obj.message ?? ""}`));
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        const name = obj.metadata?.name;
        if (!name || type === "BOOKMARK") return;
        if (type === "DELETED") this.jobs.delete(name);
        else this.jobs.set(name, obj);
      },
      (error: unknown) => {
        ended = true;
        if (this.stopped) return;
        const gone = expired || (error as { statusCode?: number } | null)?.statusCode === 410;
        if (gone) this.stats.expired++;
        else if (error) this.o.onError?.(error);
        if (gone || error) {
          // While disconnected the map may miss changes: report "unknown" so callers GET instead.
          this.synced = false;
          this.retry(gone, gone ? 0 : (this.o.retryDelayMs ?? 1000));
        } else {
          // A clean end (the server's watch timeout) resumes at once from the last resourceVersion.
          this.startWatch();
        }
      },
    );
    // stop() may have run while the request was in flight, before this controller existed.
    if (this.stopped) this.abort.abort();
    // The stream is open again: events since `resourceVersion` are replayed, so the map is current.
    else if (!ended) this.synced = true;
  }
}
