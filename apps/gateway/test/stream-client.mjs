// A stream load generator in its own process (so the client is not the process under test): opens `n` concurrent
// SSE chat-completion streams at once, each on its own connection, and prints one JSON line with, per stream, the
// status, time to response headers and to the first chunk (ms from its request), wall-clock times of the first chunk
// and of the end, the number of token chunks, and with `detail` the gaps between chunks and each chunk's lag behind
// the `t` the upstream stamped into it (same host clock).
// Usage: node stream-client.mjs <url> <token|-> <n> <model> [detail=0] [warmup=0]
// warmup=1 runs one stream first, unmeasured (connection set-up code, JIT), as a long-running client would be.
import http from "node:http";
import { performance } from "node:perf_hooks";

const [url, token, n = "1", model = "stream", detail = "0", warmup = "0"] = process.argv.slice(2);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const body = JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hi" }] });
const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(token && token !== "-" ? { authorization: `Bearer ${token}` } : {}) };
const wantDetail = detail === "1";
const T_RE = /"t":(\d+\.\d+)/;

function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const out = { status: 0, startedAt: performance.timeOrigin + t0, hdr: 0, first: 0, firstAt: 0, endedAt: 0, chunks: 0, done: false, gaps: wantDetail ? [] : undefined, lags: wantDetail ? [] : undefined };
    let last = 0;
    let pending = "";
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers, agent }, (res) => {
      out.status = res.statusCode;
      out.hdr = performance.now() - t0;
      res.setEncoding("utf8");
      res.on("data", (text) => {
        const now = performance.now();
        const wall = performance.timeOrigin + now;
        pending += text;
        let i;
        while ((i = pending.indexOf("\n\n")) >= 0) {
          const event = pending.slice(0, i);
          pending = pending.slice(i + 2);
          if (event.includes("[DONE]")) {
            out.done = true;
            continue;
          }
          if (!event.includes('"content"')) continue;
          out.chunks++;
          if (!out.first) {
            out.first = now - t0;
            out.firstAt = wall;
          } else if (wantDetail) out.gaps.push(now - last);
          last = now;
          if (wantDetail) {
            const m = T_RE.exec(event);
            if (m) out.lags.push(wall - Number(m[1]));
          }
        }
      });
      res.on("end", () => {
        out.endedAt = performance.timeOrigin + performance.now();
        resolve(out);
      });
      res.on("error", () => resolve(out));
    });
    req.on("error", () => resolve(out));
    req.end(body);
  });
}

if (warmup === "1") await one();
const streams = await Promise.all(Array.from({ length: Number(n) }, one));
// Exit only once the (possibly large) line is flushed: a pipe takes 64 KiB at a time.
process.stdout.write(`${JSON.stringify({ streams })}\n`, () => process.exit(0));
