// A small OpenAI-compatible upstream for tests and benchmarks: streams `tokens` SSE chunks `tokenDelayMs` apart after
// `latencyMs`, fails a share of requests (status `errorStatus`), can die mid-stream, and reports which served model name each request asked for.
import http from "node:http";

export interface TFakeUpstream {
  url: string;
  port: number;
  faults: { latencyMs: number; errorRate: number; errorStatus: number; tokenDelayMs: number; tokens: number; cutAfterTokens: number | null };
  seenModels: string[];
  /** The Authorization header of each request ("" when absent). */
  seenAuthorization: string[];
  /** The x-request-id header of each request. */
  seenRequestIds: string[];
  requests: number;
  cancelled: number;
  /** Per served model name: requests from clients and mirrored copies (x-loraplane-shadow: 1), as this server saw them. */
  byModel: Map<string, { client: number; shadow: number }>;
  /** The answer text per served model name (default "t0 t1 …"), split into words for a stream. */
  answers: Map<string, (prompt: string) => string>;
  close(): Promise<void>;
}

export async function startFakeUpstream(port = 0, faults: Partial<TFakeUpstream["faults"]> = {}): Promise<TFakeUpstream> {
  const state: TFakeUpstream = {
    url: "",
    port: 0,
    faults: { latencyMs: 0, errorRate: 0, errorStatus: 500, tokenDelayMs: 0, tokens: 3, cutAfterTokens: null, ...faults },
    seenModels: [],
    seenAuthorization: [],
    seenRequestIds: [],
    requests: 0,
    cancelled: 0,
    byModel: new Map(),
    answers: new Map(),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      state.requests++;
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as { model?: string; stream?: boolean };
      state.seenModels.push(String(body.model));
      const counts = state.byModel.get(String(body.model)) ?? { client: 0, shadow: 0 };
      if (req.headers["x-loraplane-shadow"] === "1") counts.shadow++;
      else counts.client++;
      state.byModel.set(String(body.model), counts);
      const answer = state.answers.get(String(body.model));
      const prompt = String((body as { prompt?: unknown }).prompt ?? JSON.stringify((body as { messages?: unknown }).messages ?? ""));
      const words = answer ? answer(prompt).split(" ") : null;
      state.seenAuthorization.push(req.headers.authorization ?? "");
      state.seenRequestIds.push(String(req.headers["x-request-id"] ?? ""));
      let closed = false;
      res.on("close", () => {
        if (!res.writableFinished) {
          closed = true;
          state.cancelled++;
        }
      });
      const { latencyMs, errorRate, errorStatus, tokenDelayMs, tokens, cutAfterTokens } = state.faults;
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      if (Math.random() < errorRate) {
        res.writeHead(errorStatus, { "content-type": "application/json" }).end(JSON.stringify({ object: "error", message: "injected" }));
        return;
      }
      if (!body.stream) {
        const text = words ? words.join(" ") : Array.from({ length: tokens }, (_, i) => `t${i}`).join(" ");
        const payload = JSON.stringify({ id: "cmpl-1", object: "chat.completion", model: body.model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: 3 + tokens } });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }).end(payload);
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const pieces = words ? words.map((w, i) => (i < words.length - 1 ? `${w} ` : w)) : Array.from({ length: tokens }, (_, i) => `t${i} `);
      for (let i = 0; i < pieces.length && !closed; i++) {
        if (i > 0 && tokenDelayMs > 0) await new Promise((r) => setTimeout(r, tokenDelayMs));
        if (closed) return;
        if (i === cutAfterTokens) {
          // The model server dies mid-stream.
          res.destroy();
          return;
        }
        res.write(`data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", model: body.model, choices: [{ index: 0, delta: { content: pieces[i] }, finish_reason: null }] })}\n\n`);
      }
      if (closed) return;
      res.write(`data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", model: body.model, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  const addr = server.address() as { port: number };
  state.port = addr.port;
  state.url = `http://127.0.0.1:${addr.port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
