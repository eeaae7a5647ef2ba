// Pipeline lookups the pipeline engine needs (the catalog CRUD lives in catalog.ts).
import type { DbOrTx } from "../client.ts";

export function findPipelineForTrigger(db: DbOrTx, id: string) {
  return db.pipeline.findUnique({
    where: { id },
    select: { id: true, projectId: true, name: true, spec: true, specVersion: true, archivedAt: true, specEditedById: true },
  });
}
