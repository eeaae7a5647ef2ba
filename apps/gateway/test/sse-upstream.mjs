// An SSE model server for tests and benchmarks, run as its own process: every POST answers `chunks` chat-completion
// chunks `intervalMs` apart after `ttftMs`, like vLLM streaming tokens, then `data: [DONE]`. Each chunk carries the
// wall-clock time it was written (`t`, ms with sub-ms precision) so a client on the same host can measure latency
// added per chunk. It admits every request at once (no queue of its own).
// Usage: node sse-upstream.mjs <port|0> <ttftMs> <chunks> <intervalMs>; prints {"port":N} when listening.
import http from "node:http";
import { performance } from "node:perf_hooks";

const [port = "0", ttftMs = "100", chunks = "20", intervalMs = "20"] = process.argv.slice(2);
const TTFT = Number(ttftMs);
const N = Number(chunks);
const INTERVAL = Number(intervalMs);
const now = () => performance.timeOrigin + performance.now();
let open = 0;
let maxOpen = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ open, maxOpen }));
    return;
  }
  req.resume();
  req.on("end", () => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    let i = 0;
    let timer = null;
    const done = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      open--;
    };
    res.on("close", () => {
      if (timer) done();
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    const tick = () => {
      if (i < N) {
        res.write(`data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"tok${i} "}}],"t":${now().toFixed(3)}}\n\n`);
        i++;
        timer = setTimeout(tick, INTERVAL);
        return;
      }
      done();
      res.end(`data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"completion_tokens":${N}},"t":${now().toFixed(3)}}\n\ndata: [DONE]\n\n`);
    };
    timer = setTimeout(tick, TTFT);
  });
});
server.keepAliveTimeout = 120_000;
server.listen({ port: Number(port), host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
