import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TCaller } from "../src/auth.ts";
import { FeedbackIds, resolveFeedbackKey } from "../src/feedback-ids.ts";

const caller = (userId: string, tokenId = "tok"): TCaller => ({ ok: true, tokenId, userId, projectId: null, projects: null, canPin: false });
const T0 = 1_800_000_000_000;

describe("FeedbackIds", () => {
  it("signs with HMAC-SHA256 (RFC 2104), short keys and keys longer than a block alike", () => {
    for (const key of [randomBytes(32), randomBytes(100)]) {
      const ids = new FeedbackIds(key);
      const id = ids.issue(ids.nonce(), ids.routePart("dep-1", "var-1"), caller("u1"), false, true, T0);
      const bytes = Buffer.from(id, "base64url");
      const body = bytes.subarray(0, bytes.length - 16);
      expect(bytes.subarray(bytes.length - 16)).toEqual(createHmac("sha256", key).update(body).digest().subarray(0, 16));
      expect(ids.redeem(id, caller("u1"), T0 + 1000)).toMatchObject({ deploymentId: "dep-1", variantId: "var-1", pinned: false, captured: true, issuedAtS: T0 / 1000 });
    }
  });

  it("accepts any token of the same user, refuses other users, and ids issued without a caller only with auth off", () => {
    const ids = new FeedbackIds(randomBytes(32));
    const route = ids.routePart("d", "v");
    // A caller seen for the first time while an id is written (its tag computed then) does not corrupt the id.
    const id = ids.issue(ids.nonce(), route, caller("alice", "t1"), true, false, T0);
    expect(ids.redeem(id, caller("bob", "t1"), T0)).toBeNull();
    expect(ids.redeem(id, caller("alice", "t2"), T0)).toMatchObject({ pinned: true });
    const anonymous = ids.issue(ids.nonce(), route, null, false, false, T0);
    expect(ids.redeem(anonymous, caller("alice"), T0)).toBeNull();
    expect(ids.redeem(anonymous, null, T0)).not.toBeNull();
  });

  it("refuses ids past the age limit, from the future beyond clock skew, and in other spellings", () => {
    const ids = new FeedbackIds(randomBytes(32), 60);
    const route = ids.routePart("d", "v");
    const c = caller("u");
    expect(ids.redeem(ids.issue(ids.nonce(), route, c, false, false, T0), c, T0 + 61_000)).toBeNull();
    expect(ids.redeem(ids.issue(ids.nonce(), route, c, false, false, T0), c, T0 + 60_000)).not.toBeNull();
    expect(ids.redeem(ids.issue(ids.nonce(), route, c, false, false, T0 + 120_000), c, T0)).toBeNull();
    const id = ids.issue(ids.nonce(), route, c, false, false, T0);
    expect(ids.redeem(`${id}=`, c, T0)).toBeNull();
    // Standard base64 (padded: these ids are 43 bytes) decodes to the same bytes, but is not the id.
    expect(ids.redeem(Buffer.from(id, "base64url").toString("base64"), c, T0)).toBeNull();
    expect(ids.redeem(id, c, T0)).not.toBeNull();
  });

  it("remembers rated ids until they expire, within a bound; past it, ids as old as the forgotten ones are refused", () => {
    const ids = new FeedbackIds(randomBytes(32), 3600, 3);
    const route = ids.routePart("d", "v");
    const c = caller("u");
    const issued = [0, 1, 2, 3].map((s) => ids.issue(ids.nonce(), route, c, false, false, T0 + s * 1000));
    for (const id of issued.slice(0, 3)) expect(ids.redeem(id, c, T0 + 5000)).not.toBeNull();
    expect(ids.remembered).toBe(3);
    // The bound is reached: the oldest rating is forgotten, and with it every id issued up to its second.
    expect(ids.redeem(issued[3]!, c, T0 + 5000)).not.toBeNull();
    expect(ids.remembered).toBe(3);
    expect(ids.redeem(issued[0]!, c, T0 + 5000)).toBeNull();
    // Expired ratings are forgotten as new ones arrive.
    const late = ids.issue(ids.nonce(), route, c, false, false, T0 + 4000_000);
    expect(ids.redeem(late, c, T0 + 4000_000)).not.toBeNull();
    expect(ids.remembered).toBe(1);
  });

  it("takes GATEWAY_FEEDBACK_KEY, else a key derived from SERVING_API_KEY (not the key itself), else a random one", () => {
    const serving = "s".repeat(40);
    expect(resolveFeedbackKey("k".repeat(32), serving)).toEqual({ key: Buffer.from("k".repeat(32)), source: "GATEWAY_FEEDBACK_KEY" });
    const derived = resolveFeedbackKey(undefined, serving);
    expect(derived.source).toBe("SERVING_API_KEY");
    expect(derived.key).toEqual(resolveFeedbackKey(null, serving).key);
    expect(derived.key.equals(Buffer.from(serving))).toBe(false);
    const random = resolveFeedbackKey(undefined, null);
    expect(random.source).toBe("random");
    expect(random.key.equals(resolveFeedbackKey(undefined, null).key)).toBe(false);
  });
});
