// Request ids that carry what POST /v1/feedback checks (issue 19 item 3): the deployment and variant that answered,
// whether the answer was pinned or captured, a tag of the caller and the issue time, under a truncated HMAC-SHA256.
// Nothing is kept per answered request (the former in-memory index was the hot path's one lasting allocation), and
// every gateway holding the same key accepts feedback on every other's answers.
//
// Layout (base64url of the bytes, no padding; 122 characters with cuid ids):
//   nonce(9) version(1) flags(1) issuedAt s(4, BE) callerTag(8) len(1) deploymentId len(1) variantId mac(16)
// The nonce comes first: its 12 characters are the id sent upstream before the answer is known (x-request-id), so the
// id the client gets begins with the one in the model server's log; an answer that failed carries only those 12.
import { createHmac, hkdfSync, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";
import type { TCaller } from "./auth.ts";

const VERSION = 1;
const NONCE_BYTES = 9;
const CALLER_BYTES = 8;
const MAC_BYTES = 16;
const HEAD_BYTES = NONCE_BYTES + 1 + 1 + 4 + CALLER_BYTES;
const FLAG_PINNED = 1;
const FLAG_CAPTURED = 2;
const FLAG_CALLER = 4;
const MAX_ID_CHARS = 800;
const MAX_BODY_BYTES = HEAD_BYTES + 2 * 256;
/** Ids issued by a gateway whose clock is ahead of this one's by up to this much are still accepted. */
const CLOCK_SKEW_S = 60;
const NONCE_POOL_BYTES = NONCE_BYTES * 512;

/**
 * How long an id may be rated. The index it replaces held the last 200,000 answers of one process (and none across a
 * restart): about an hour at 55 requests/s, minutes at a busy gateway's rate. An hour covers reading an answer and
 * rating it, which is what feedback is for.
 */
export const FEEDBACK_MAX_AGE_S = 3600;
/** Rated ids remembered (to refuse a second rating) at most; the bound the former index had for every answer. */
export const RATED_MAX = 200_000;

export type TFeedbackKeySource = "GATEWAY_FEEDBACK_KEY" | "SERVING_API_KEY" | "random";

/**
 * The MAC key: GATEWAY_FEEDBACK_KEY as given; else derived (HKDF-SHA256, its own info label, so the id MAC never equals
 * anything keyed with the serving key itself) from SERVING_API_KEY, which every gateway of an install already shares;
 * else random per process: that gateway accepts feedback only on its own answers (several instances need one of the two).
 */
export function resolveFeedbackKey(feedbackKey: string | null | undefined, servingApiKey: string | null | undefined): { key: Buffer; source: TFeedbackKeySource } {
  if (feedbackKey) return { key: Buffer.from(feedbackKey, "utf8"), source: "GATEWAY_FEEDBACK_KEY" };
  if (servingApiKey) return { key: Buffer.from(hkdfSync("sha256", servingApiKey, "", "loraplane gateway feedback request ids v1", 32)), source: "SERVING_API_KEY" };
  return { key: randomBytes(32), source: "random" };
}

/** What an id says about the answer it was issued for. */
export interface TFeedbackTarget {
  nonce: string;
  issuedAtS: number;
  deploymentId: string;
  variantId: string;
  pinned: boolean;
  captured: boolean;
}

export class FeedbackIds {
  /** Scratch buffer the id's bytes are written to and read from (one per gateway, not one per request). */
  private readonly scratch = Buffer.alloc(MAX_BODY_BYTES + MAC_BYTES);
  private readonly callerTags = new WeakMap<TCaller, Buffer>();
  private readonly noncePool = Buffer.allocUnsafe(NONCE_POOL_BYTES);
  private nonceOffset = NONCE_POOL_BYTES;
  /** Nonces of rated ids (with their issue time), oldest rating first: a second rating is refused. */
  private readonly rated = new Map<string, number>();
  /** Ids issued before this (s) are refused: raised when a rated id had to be forgotten before it expired. */
  private floorS = 0;

  constructor(
    private readonly key: Buffer,
    readonly maxAgeS = FEEDBACK_MAX_AGE_S,
    private readonly ratedMax = RATED_MAX,
  ) {}

  /** HMAC-SHA256 of inner[0, length): the id's bytes written there by the caller. */
  private mac(length: number): Buffer {
    return createHmac("sha256", this.key).update(this.scratch.subarray(0, length)).digest();
  }

  /** 12 random base64url characters: the request's id until its answer is known, and the start of the id issued then. */
  nonce(): string {
    if (this.nonceOffset === NONCE_POOL_BYTES) {
      randomFillSync(this.noncePool);
      this.nonceOffset = 0;
    }
    const start = this.nonceOffset;
    this.nonceOffset += NONCE_BYTES;
    return this.noncePool.toString("base64url", start, this.nonceOffset);
  }

  /** The deployment and variant ids as an id carries them; computed once per routing entry, not per request. */
  routePart(deploymentId: string, variantId: string): Buffer {
    const d = Buffer.from(deploymentId, "utf8");
    const v = Buffer.from(variantId, "utf8");
    if (d.length > 255 || v.length > 255) throw new Error("deployment and variant ids longer than 255 bytes cannot be carried in a request id");
    return Buffer.concat([Buffer.of(d.length), d, Buffer.of(v.length), v]);
  }

  /** The id of an answered request (`nonce` from nonce()); nothing is remembered. */
  issue(nonce: string, routePart: Buffer, caller: TCaller | null, pinned: boolean, captured: boolean, nowMs = Date.now()): string {
    const body = HEAD_BYTES + routePart.length;
    // Before the id is written: a tag not yet cached is computed in the same buffer.
    const tag = caller ? this.callerTag(caller) : null;
    const buf = this.scratch;
    buf.write(nonce, 0, NONCE_BYTES, "base64url");
    buf[NONCE_BYTES] = VERSION;
    buf[NONCE_BYTES + 1] = (pinned ? FLAG_PINNED : 0) | (captured ? FLAG_CAPTURED : 0) | (caller ? FLAG_CALLER : 0);
    buf.writeUInt32BE(Math.floor(nowMs / 1000), NONCE_BYTES + 2);
    if (tag) tag.copy(buf, NONCE_BYTES + 6);
    else buf.fill(0, NONCE_BYTES + 6, HEAD_BYTES);
    routePart.copy(buf, HEAD_BYTES);
    this.mac(body).copy(buf, body, 0, MAC_BYTES);
    return buf.toString("base64url", 0, body + MAC_BYTES);
  }

  /**
   * The answer `id` was issued for, when the MAC holds, it is not older than maxAgeS, `caller` (null: auth disabled)
   * made the request and it was not rated before; it is then remembered as rated. Otherwise null, for every reason alike.
   */
  redeem(id: string, caller: TCaller | null, nowMs = Date.now()): TFeedbackTarget | null {
    const target = this.verify(id, caller, nowMs);
    if (!target || this.rated.has(target.nonce)) return null;
    const nowS = Math.floor(nowMs / 1000);
    for (const [nonce, issuedAtS] of this.rated) {
      if (issuedAtS + this.maxAgeS >= nowS && this.rated.size < this.ratedMax) break;
      this.rated.delete(nonce);
      // Forgotten before it expired (the bound): ids as old are refused from now on, like the index forgot old answers.
      if (issuedAtS + this.maxAgeS >= nowS) this.floorS = Math.max(this.floorS, issuedAtS + 1);
    }
    if (target.issuedAtS < this.floorS) return null;
    this.rated.set(target.nonce, target.issuedAtS);
    return target;
  }

  /** Rated ids held to refuse a second rating: the only memory feedback keeps (none per answered request). */
  get remembered(): number {
    return this.rated.size;
  }

  private verify(id: string, caller: TCaller | null, nowMs: number): TFeedbackTarget | null {
    if (id.length > MAX_ID_CHARS || id.length < Math.ceil(((HEAD_BYTES + 2 + MAC_BYTES) * 4) / 3)) return null;
    const buf = Buffer.from(id, "base64url");
    // One spelling per id: characters outside the alphabet or unused trailing bits would otherwise decode alike.
    if (buf.toString("base64url") !== id || buf[NONCE_BYTES] !== VERSION) return null;
    const dLen = buf[HEAD_BYTES]!;
    const vAt = HEAD_BYTES + 1 + dLen;
    if (vAt >= buf.length) return null;
    const vLen = buf[vAt]!;
    const body = vAt + 1 + vLen;
    if (body + MAC_BYTES !== buf.length || body > MAX_BODY_BYTES) return null;
    buf.copy(this.scratch, 0, 0, body);
    if (!timingSafeEqual(this.mac(body).subarray(0, MAC_BYTES), buf.subarray(body))) return null;
    const issuedAtS = buf.readUInt32BE(NONCE_BYTES + 2);
    const nowS = Math.floor(nowMs / 1000);
    if (nowS - issuedAtS > this.maxAgeS || issuedAtS - nowS > CLOCK_SKEW_S) return null;
    const flags = buf[NONCE_BYTES + 1]!;
    // Same rule as the index: any of the owner's tokens may rate; an id issued without a caller only with auth off.
    if (caller && (!(flags & FLAG_CALLER) || !this.callerTag(caller).equals(buf.subarray(NONCE_BYTES + 6, HEAD_BYTES)))) return null;
    return {
      nonce: id.slice(0, (NONCE_BYTES * 4) / 3),
      issuedAtS,
      deploymentId: buf.toString("utf8", HEAD_BYTES + 1, vAt),
      variantId: buf.toString("utf8", vAt + 1, body),
      pinned: (flags & FLAG_PINNED) !== 0,
      captured: (flags & FLAG_CAPTURED) !== 0,
    };
  }

  /**
   * The caller as the id names it: their user (a token's owner; the index accepted the same token or the same owner,
   * and a token has one owner), keyed so ids do not reveal user ids. Cached per authenticated caller object.
   */
  private callerTag(caller: TCaller): Buffer {
    let tag = this.callerTags.get(caller);
    if (!tag) {
      const body = this.scratch.write(`caller\u0000${caller.userId}`, 0, MAX_BODY_BYTES, "utf8");
      tag = Buffer.from(this.mac(body).subarray(0, CALLER_BYTES));
      this.callerTags.set(caller, tag);
    }
    return tag;
  }
}
