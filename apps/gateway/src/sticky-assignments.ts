// Sticky users under adaptive allocation. The usual stickiness hashes the user into a weight band, which keeps users
// in place only while weights move one way (a canary growing). Thompson sampling moves the split both ways every tick,
// so a banded user would flip between variants; instead the first assignment is remembered (per deployment, bounded,
// least recently used evicted) and reused while that variant still takes traffic. Per gateway: a user who reaches
// another gateway replica is assigned there once, by the same hash.
import { pickWeighted, type TRoute, type TRouteVariant } from "./routing.ts";

export class StickyAssignments {
  private readonly assigned = new Map<string, string>();

  constructor(private readonly max = 100_000) {}

  /** The variant this user was given on this deployment, or a new pick at point u (then remembered). */
  pick(route: TRoute, user: string, u: number): TRouteVariant | null {
    const key = `${route.deploymentId}\u0000${user}`;
    const known = this.assigned.get(key);
    if (known !== undefined) {
      const v = route.weighted.find((x) => x.id === known);
      if (v) {
        // Map order is insertion order: re-inserting keeps the eviction least-recently-used.
        this.assigned.delete(key);
        this.assigned.set(key, known);
        return v;
      }
    }
    const v = pickWeighted(route, u);
    if (v) {
      if (this.assigned.size >= this.max) this.assigned.delete(this.assigned.keys().next().value!);
      this.assigned.set(key, v.id);
    }
    return v;
  }

  get size(): number {
    return this.assigned.size;
  }
}
