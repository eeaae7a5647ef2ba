"""OpenAI-compatible dev server with LoRA adapters, mirroring the part of vLLM's API the control plane uses.

Generation runs in a worker thread (one model, one lock) and streams tokens back to
the event loop through a queue, so /health, /metrics and queued requests stay responsive.
"""


import asyncio
import json
import os
import random
import threading
import time
import uuid
from typing import Optional

import torch

from .modeling import load_base_model, load_tokenizer
from .reporting import log


class Engine:
    """Base model + named LoRA adapters; adapters are switched per request under a lock."""

    def __init__(self, model_dir: str, device: Optional[torch.device] = None):
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.tok = load_tokenizer(model_dir)
        dtype = torch.float32 if self.device.type == "cpu" else torch.bfloat16
        self.model = load_base_model(model_dir, dtype).to(self.device).eval()
        self.adapters: dict = {}
        self.lock = threading.Lock()

    def load_adapter(self, name: str, path: str) -> None:
        from peft import PeftModel

        if not os.path.isfile(os.path.join(path, "adapter_config.json")):
            raise FileNotFoundError(f"no adapter_config.json in {path}")
        with self.lock:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(path, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
            self.model.eval()
            self.adapters[name] = path

    def unload_adapter(self, name: str) -> None:
        with self.lock:
            self.adapters.pop(name)
            if self.adapters:
                self.model.set_adapter(next(iter(self.adapters)))
                self.model.delete_adapter(name)
            else:  # last adapter: go back to the plain base model
                self.model = self.model.unload()

    def count_tokens(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    @torch.no_grad()
    def generate(self, prompt: str, adapter: Optional[str], max_tokens: int, temperature: float, top_p: float,
                 on_text, seed: Optional[int] = None, on_start=None) -> dict:
        """Token-by-token decode with KV cache; calls on_text(delta) as text appears."""
        from contextlib import nullcontext

        ids = self.tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.device)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed if seed is not None else random.randrange(2 ** 31))
        with self.lock:
            if on_start:
                on_start()
            if adapter:
                self.model.set_adapter(adapter)
                ctx = nullcontext()
            else:
                ctx = self.model.disable_adapter() if self.adapters else nullcontext()
            out_ids, sent, past, finish = [], "", None, "length"
            with ctx:
                step_input = ids
                for _ in range(max_tokens):
                    out = self.model(input_ids=step_input, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    logits = out.logits[0, -1].float()
                    nxt = _sample(logits, temperature, top_p, gen)
                    if nxt == self.tok.eos_token_id:
                        finish = "stop"
                        break
                    out_ids.append(nxt)
                    text = self.tok.decode(out_ids, skip_special_tokens=True)
                    if len(text) > len(sent) and not text.endswith("\ufffd"):
                        on_text(text[len(sent):])
                        sent = text
                    step_input = torch.tensor([[nxt]], device=self.device)
        return {"text": sent, "prompt_tokens": ids.shape[1], "completion_tokens": len(out_ids), "finish_reason": finish}


def _sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator) -> int:
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=gen))


class Metrics:
    """vLLM's metric names, so dashboards and rollback rules work unchanged against this server."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        lb = ["model_name"]
        self.e2e = Histogram("vllm:e2e_request_latency_seconds", "End-to-end request latency", lb, registry=self.registry,
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80))
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token", lb, registry=self.registry,
                              buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.gen_tokens = Counter("vllm:generation_tokens", "Generated tokens", lb, registry=self.registry)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prompt tokens", lb, registry=self.registry)
        self.success = Counter("vllm:request_success", "Finished requests", lb + ["finished_reason"], registry=self.registry)
        self.running = Gauge("vllm:num_requests_running", "Requests generating", lb, registry=self.registry)
        self.waiting = Gauge("vllm:num_requests_waiting", "Requests queued", lb, registry=self.registry)


API_KEY_ENV = "LORAPLANE_SERVE_API_KEY"
FAULTS_ENV = "LORAPLANE_SERVE_FAULT_INJECTION"


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def security_options(args, environ) -> tuple:
    """(api key or None, fault injection enabled): flags win, then LORAPLANE_SERVE_API_KEY / _FAULT_INJECTION."""
    api_key = getattr(args, "api_key", None) or environ.get(API_KEY_ENV) or None
    faults_on = bool(getattr(args, "enable_fault_injection", False)) or _truthy(environ.get(FAULTS_ENV))
    return api_key, faults_on


def create_app(engine: Engine, served_name: str, latency_ms: float = 0.0, error_rate: float = 0.0,
               max_new_tokens_cap: Optional[int] = 512, api_key: Optional[str] = None,
               enable_fault_injection: bool = False):
    import hmac

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    app = FastAPI(title="loraplane-runtime serve")
    metrics = Metrics()
    faults = {"latencyMs": float(latency_ms), "errorRate": float(error_rate)}

    def error(status: int, message: str, typ: str = "BadRequestError", param: Optional[str] = None):
        # OpenAI's (and current vLLM's) error body.
        return JSONResponse({"error": {"message": message, "type": typ, "param": param, "code": status}},
                            status_code=status)

    if api_key:
        expected = f"Bearer {api_key}".encode()

        @app.middleware("http")
        async def require_api_key(request: Request, call_next):
            # Like vLLM's --api-key: every /v1 route (and the admin routes) needs the key; /health and
            # /metrics stay open for probes and scrapers.
            path = request.url.path
            if request.method != "OPTIONS" and (path.startswith("/v1") or path.startswith("/admin")):
                got = request.headers.get("authorization", "").encode()
                if not hmac.compare_digest(got, expected):
                    return error(401, "Unauthorized: a valid 'Authorization: Bearer <api key>' header is required",
                                 "AuthenticationError")
            return await call_next(request)

    def model_ids() -> list:
        return [served_name] + list(engine.adapters)

    @app.get("/health")
    async def health():
        return Response(status_code=200)

    @app.get("/metrics")
    async def prom():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models():
        now = int(time.time())
        data = [{"id": served_name, "object": "model", "created": now, "owned_by": "loraplane", "root": served_name, "parent": None}]
        data += [{"id": n, "object": "model", "created": now, "owned_by": "loraplane", "root": p, "parent": served_name}
                 for n, p in engine.adapters.items()]
        return {"object": "list", "data": data}

    if enable_fault_injection:  # off unless explicitly enabled: it lets any caller slow down or fail the server
        @app.post("/admin/faults")
        async def set_faults(req: Request):
            try:
                body = await req.json()
            except ValueError:
                return error(400, "request body must be valid JSON")
            if not isinstance(body, dict):
                return error(400, "request body must be a JSON object")
            try:
                if "latencyMs" in body:
                    faults["latencyMs"] = max(0.0, float(body["latencyMs"]))
                if "errorRate" in body:
                    faults["errorRate"] = min(1.0, max(0.0, float(body["errorRate"])))
            except (TypeError, ValueError):
                return error(400, "latencyMs and errorRate must be numbers")
            return faults

        @app.get("/admin/faults")
        async def get_faults():
            return faults

    @app.post("/v1/load_lora_adapter")
    async def load_lora(req: Request):
        body = await req.json()
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            return error(400, "lora_name and lora_path are required")
        if name in engine.adapters or name == served_name:
            return error(400, f"The lora adapter '{name}' has already been loaded.")
        try:
            await asyncio.to_thread(engine.load_adapter, name, path)
        except Exception as e:  # noqa: BLE001 - reported to the caller
            return error(400, f"failed to load adapter '{name}': {e}")
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload_lora(req: Request):
        name = (await req.json()).get("lora_name")
        if name not in engine.adapters:
            return error(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        await asyncio.to_thread(engine.unload_adapter, name)
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    async def run(body: dict, chat: bool):
        name = body.get("model") or served_name
        if name not in model_ids():
            return error(404, f"The model `{name}` does not exist.", "NotFoundError")
        if chat:
            msgs = body.get("messages")
            if not isinstance(msgs, list) or not msgs:
                return error(400, "messages must be a non-empty list")
            prompt = engine.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:
            prompt = body.get("prompt")
            if isinstance(prompt, list) and len(prompt) == 1:
                prompt = prompt[0]
            if not isinstance(prompt, str):
                return error(400, "prompt must be a string (batched prompts are not supported)")
        max_tokens = min(int(body.get("max_tokens") or body.get("max_completion_tokens") or 16), max_new_tokens_cap)
        temperature = float(body.get("temperature", 1.0))
        top_p = float(body.get("top_p", 1.0))
        adapter = None if name == served_name else name
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        t0 = time.monotonic()

        if random.random() < faults["errorRate"]:
            return error(500, "injected error (fault injection)", "InternalServerError")
        metrics.waiting.labels(name).inc()
        if faults["latencyMs"] > 0:
            await asyncio.sleep(faults["latencyMs"] / 1000)

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        first = {"t": None}

        def on_text(delta: str):
            if first["t"] is None:
                first["t"] = time.monotonic()
            loop.call_soon_threadsafe(queue.put_nowait, ("text", delta))

        def on_start():  # called by the worker once it holds the model lock
            loop.call_soon_threadsafe(lambda: (metrics.waiting.labels(name).dec(), metrics.running.labels(name).inc()))

        def work():
            try:
                res = engine.generate(prompt, adapter, max_tokens, temperature, top_p, on_text, body.get("seed"), on_start)
                loop.call_soon_threadsafe(queue.put_nowait, ("done", res))
            except Exception as e:  # noqa: BLE001 - surfaced to the client
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))

        fut = loop.run_in_executor(None, work)

        def finish(res):
            metrics.running.labels(name).dec()
            metrics.e2e.labels(name).observe(time.monotonic() - t0)
            metrics.ttft.labels(name).observe((first["t"] or time.monotonic()) - t0)
            metrics.gen_tokens.labels(name).inc(res["completion_tokens"])
            metrics.prompt_tokens.labels(name).inc(res["prompt_tokens"])
            metrics.success.labels(name, res["finish_reason"]).inc()

        def usage(res):
            return {"prompt_tokens": res["prompt_tokens"], "completion_tokens": res["completion_tokens"],
                    "total_tokens": res["prompt_tokens"] + res["completion_tokens"]}

        def chunk(delta: Optional[str], finish_reason=None, role=False):
            if chat:
                d = {"role": "assistant", "content": ""} if role else ({"content": delta} if delta is not None else {})
                choice = {"index": 0, "delta": d, "logprobs": None, "finish_reason": finish_reason}
                obj = "chat.completion.chunk"
            else:
                choice = {"index": 0, "text": delta or "", "logprobs": None, "finish_reason": finish_reason}
                obj = "text_completion"
            return {"id": rid, "object": obj, "created": created, "model": name, "choices": [choice]}

        if not stream:
            while True:
                kind, val = await queue.get()
                if kind == "done":
                    break
                if kind == "error":
                    metrics.running.labels(name).dec()
                    return error(500, str(val), "InternalServerError")
            await fut
            finish(val)
            if chat:
                choice = {"index": 0, "message": {"role": "assistant", "content": val["text"]},
                          "logprobs": None, "finish_reason": val["finish_reason"]}
            else:
                choice = {"index": 0, "text": val["text"], "logprobs": None, "finish_reason": val["finish_reason"]}
            return {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                    "model": name, "choices": [choice], "usage": usage(val)}

        async def sse():
            if chat:
                yield f"data: {json.dumps(chunk(None, role=True))}\n\n"
            while True:
                kind, val = await queue.get()
                if kind == "text":
                    yield f"data: {json.dumps(chunk(val))}\n\n"
                elif kind == "error":
                    metrics.running.labels(name).dec()
                    yield f"data: {json.dumps({'object': 'error', 'message': str(val), 'code': 500})}\n\n"
                    break
                else:
                    await fut
                    finish(val)
                    yield f"data: {json.dumps(chunk(None if chat else '', val['finish_reason']))}\n\n"
                    if include_usage:
                        u = {"id": rid, "object": chunk('')['object'], "created": created, "model": name,
                             "choices": [], "usage": usage(val)}
                        yield f"data: {json.dumps(u)}\n\n"
                    break
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(req: Request):
        return await run(await req.json(), chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(req: Request):
        return await run(await req.json(), chat=True)

    return app


def main(args) -> None:
    import uvicorn

    from .errors import ConfigError

    if not os.path.isfile(os.path.join(args.model, "config.json")):
        raise ConfigError(f"base model not found: {args.model}")
    served = args.served_model_name or os.path.basename(os.path.abspath(args.model))
    engine = Engine(args.model)
    for spec in args.adapter:
        name, sep, path = spec.partition("=")
        if not sep:
            raise ConfigError(f"--adapter expects NAME=DIR, got {spec!r}")
        engine.load_adapter(name, path)
    api_key, faults_on = security_options(args, os.environ)
    app = create_app(engine, served, args.inject_latency_ms, args.inject_error_rate, args.max_new_tokens_cap,
                     api_key=api_key, enable_fault_injection=faults_on)
    log(f"serving {served} (+{len(engine.adapters)} adapters) on http://{args.host}:{args.port}; "
        f"api key {'required' if api_key else 'NOT required'}; /admin/faults {'enabled' if faults_on else 'disabled'}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
