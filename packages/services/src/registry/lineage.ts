import { findModelVersionLineage, findRunsByCommitSha, type DbOrTx } from "@loraplane/db";
import { z } from "zod";
import { NotFoundError, parseInput } from "../errors.ts";

/** Version → run → commit → dataset digest, its parent and children, and where it is deployed. */
export async function getModelVersionLineage(db: DbOrTx, id: string) {
  const version = await findModelVersionLineage(db, parseInput(z.string().min(1), id, "id"));
  if (!version) throw new NotFoundError(`model version ${id} not found`);
  return version;
}

/** Commit → runs → versions. A SHA prefix of at least 7 characters matches like git does. */
export async function findRunsByCommit(db: DbOrTx, projectId: string, sha: string) {
  const commit = parseInput(z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a hex commit SHA of at least 7 characters"), sha, "sha");
  return findRunsByCommitSha(db, projectId, commit.toLowerCase());
}
