import type { Db } from "@loraplane/db";
import type { TPipelineQueue } from "@loraplane/queue";

/** What run services need: the database and the pipeline queue's producers. */
export interface TRunDeps {
  db: Db;
  queue: Pick<TPipelineQueue, "enqueueStage" | "nudgeRun">;
}
