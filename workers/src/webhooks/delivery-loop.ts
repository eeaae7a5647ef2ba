// Sends outbound webhooks. The WebhookDelivery table is the outbox: services insert a row in the same transaction
// as the change they announce, and this loop claims due rows (SKIP LOCKED, so any number of workers cooperate),
// signs and sends them, and schedules retries. Nothing lives only in memory: a worker killed mid-send leaves the
// row due again after its lease, so every event is delivered at least once (receivers deduplicate by webhook-id).
import type { Db } from "@loraplane/db";
import { deliverDueWebhooks, type TWebhookDeliveryOptions } from "@loraplane/services";
import type { Logger } from "pino";

export interface TWebhookLoop {
  /** Runs one pass now (tests); resolves with how many deliveries it handled. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

export function startWebhookDeliveryLoop(db: Db, log: Logger, options: TWebhookDeliveryOptions & { intervalMs: number }): TWebhookLoop {
  let stopped = false;
  let running: Promise<number> | null = null;
  const tick = () => {
    running ??= (async () => {
      let total = 0;
      // Drain what is due in batches, then wait for the next interval.
      for (;;) {
        const n = await deliverDueWebhooks(db, options);
        total += n;
        if (n === 0 || stopped) return total;
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => {
    void tick().catch((error: unknown) => log.error({ err: error }, "webhook delivery pass failed"));
  }, options.intervalMs);
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => 0);
    },
  };
}
