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

from . import data as D
from .modeling import load_base_model, load_tokenizer, model_context_length
from .reporting import log


class Engine:
    """Base model + named LoRA adapters; adapters are switched per request under a lock."""

    def __init__(self, model_dir: str, device: Optional[torch.device] = None, prompt_template: str = "auto",
                 attn_implementation: Optional[str] = None, trust_remote_code: bool = False):
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.tok = load_tokenizer(model_dir, trust_remote_code=trust_remote_code)
        dtype = torch.float32 if self.device.type == "cpu" else torch.bfloat16
        self.model = load_base_model(model_dir, dtype, attn_implementation,
                                     trust_remote_code=trust_remote_code).to(self.device).eval()
        # Chat requests are rendered by the same function as training and evaluation.
        self.fmt = D.PromptFormatter(self.tok, prompt_template)
        self.eos_ids = D.eos_token_ids(self.tok, getattr(self.model, "generation_config", None))
        self.context = model_context_length(self.model.config)
        self.adapters: dict = {}
        self.adapter_fmt: dict = {}
        self.lock = threading.Lock()

    def _formatter_of(self, adapter_dir: str):
        """The prompt template an adapter was trained with (train writes it to loraplane.json), else the server's."""
        meta = os.path.join(adapter_dir, D.ADAPTER_META)
        if os.path.isfile(meta):
            with open(meta, encoding="utf-8") as f:
                mode = json.load(f).get("promptTemplate")
            if mode in ("chat", "alpaca") and mode != self.fmt.mode:
                return D.PromptFormatter(self.tok, mode)
        return self.fmt

    def formatter_for(self, adapter: Optional[str]):
        return self.adapter_fmt.get(adapter, self.fmt) if adapter else self.fmt

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
            self.adapter_fmt[name] = self._formatter_of(path)

    def unload_adapter(self, name: str) -> None:
        with self.lock:
            self.adapters.pop(name)
            self.adapter_fmt.pop(name, None)
            if self.adapters:
                self.model.set_adapter(next(iter(self.adapters)))
                self.model.delete_adapter(name)
            else:  # last adapter: go back to the plain base model
                self.model = self.model.unload()

    def encode(self, text: str, raw: bool) -> list:
        return D.encode_prompt(self.tok, text, raw)

    @torch.no_grad()
    def generate(self, prompt_ids: list, adapter: Optional[str], max_tokens: int, temperature: float, top_p: float,
                 on_text, seed: Optional[int] = None, on_start=None, stop: Optional[list] = None,
                 stop_token_ids: Optional[list] = None, ignore_eos: bool = False,
                 cancel: Optional[threading.Event] = None) -> dict:
        """Token-by-token decode with KV cache; calls on_text(delta) as text appears.

        Text that could be the start of a stop string is held back until it is known not to be one, so a
        stream never shows a stop string; the result's text ends before the first stop string. `cancel`
        (set when the client goes away) ends the loop after the current token."""
        from contextlib import nullcontext

        stop = [x for x in (stop or []) if x]
        ends = set() if ignore_eos else set(self.eos_ids)
        ends |= set(stop_token_ids or [])
        ids = torch.tensor([prompt_ids], device=self.device)
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
            out_ids, sent, past, finish, text = [], "", None, "length", ""
            with ctx:
                step_input = ids
                for _ in range(max_tokens):
                    if cancel is not None and cancel.is_set():
                        finish = "abort"
                        break
                    out = self.model(input_ids=step_input, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    logits = out.logits[0, -1].float()
                    nxt = _sample(logits, temperature, top_p, gen)
                    if nxt in ends:
                        finish = "stop"
                        break
                    out_ids.append(nxt)
                    text = self.tok.decode(out_ids, skip_special_tokens=True)
                    hit = _first_stop(text, stop)
                    if hit is not None:
                        text, finish = text[:hit], "stop"
                        break
                    safe = len(text) - _stop_holdback(text, stop)
                    if safe > len(sent) and not text[:safe].endswith("\ufffd"):
                        on_text(text[len(sent):safe])
                        sent = text[:safe]
                    step_input = torch.tensor([[nxt]], device=self.device)
            if len(text) > len(sent) and text.startswith(sent):
                on_text(text[len(sent):])
        return {"text": text, "prompt_tokens": len(prompt_ids), "completion_tokens": len(out_ids),
                "finish_reason": finish}


def _first_stop(text: str, stop: list) -> Optional[int]:
    hits = [i for i in (text.find(x) for x in stop) if i >= 0]
    return min(hits) if hits else None


def _stop_holdback(text: str, stop: list) -> int:
    """Length of the longest tail of `text` that is a proper prefix of a stop string."""
    best = 0
    for x in stop:
        for k in range(min(len(x) - 1, len(text)), best, -1):
            if text.endswith(x[:k]):
                best = k
                break
    return best


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
        # vLLM's own bucket bounds (vllm/engine/metrics.py), so PromQL quantiles over this server are as fine-grained
        # as over vLLM and the Prometheus metric provider judges both alike.
        self.e2e = Histogram("vllm:e2e_request_latency_seconds", "End-to-end request latency", lb, registry=self.registry,
                             buckets=(0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                                      120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0))
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token", lb, registry=self.registry,
                              buckets=(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                                       7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0))
        self.gen_tokens = Counter("vllm:generation_tokens", "Generated tokens", lb, registry=self.registry)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prompt tokens", lb, registry=self.registry)
        self.success = Counter("vllm:request_success", "Finished requests", lb + ["finished_reason"], registry=self.registry)
        self.running = Gauge("vllm:num_requests_running", "Requests generating", lb, registry=self.registry)
        self.waiting = Gauge("vllm:num_requests_waiting", "Requests queued", lb, registry=self.registry)


class BadRequest(ValueError):
    def __init__(self, param: Optional[str], message: str):
        super().__init__(message)
        self.param = param


def _num(body: dict, key: str, default: float, lo: float, hi: float, lo_open: bool = False) -> float:
    v = body.get(key)
    if v is None:  # OpenAI: null means "use the default"
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadRequest(key, f"{key} must be a number, got {json.dumps(v)}")
    if v < lo or v > hi or (lo_open and v == lo):
        raise BadRequest(key, f"{key} must be in {'(' if lo_open else '['}{lo}, {hi}], got {v}")
    return float(v)


def _int_or_none(body: dict, key: str, minimum: Optional[int] = None) -> Optional[int]:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadRequest(key, f"{key} must be an integer, got {json.dumps(v)}")
    if minimum is not None and v < minimum:
        raise BadRequest(key, f"{key} must be at least {minimum}, got {v}")
    return v


# Parameters this server does not implement: rejected when set to anything but their no-op value,
# instead of being silently ignored.
_UNSUPPORTED = {
    "best_of": (None, 1), "echo": (None, False), "suffix": (None, ""), "logit_bias": (None, {}),
    "presence_penalty": (None, 0, 0.0), "frequency_penalty": (None, 0, 0.0), "repetition_penalty": (None, 1, 1.0),
    "tools": (None, []), "tool_choice": (None, "none"), "functions": (None, []), "top_k": (None, -1, 0),
    "min_p": (None, 0, 0.0), "use_beam_search": (None, False), "top_logprobs": (None, 0), "prompt_logprobs": (None,),
}


def parse_request(body, chat: bool) -> dict:
    """Validate an OpenAI (/v1/completions or /v1/chat/completions) body; BadRequest names the field."""
    if not isinstance(body, dict):
        raise BadRequest(None, "request body must be a JSON object")
    r: dict = {}
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model", "model must be a string")
    r["model"] = model
    if chat:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages", "messages must be a non-empty list")
        clean = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise BadRequest(f"messages[{i}]", f"messages[{i}] must be an object with a string 'role'")
            content = m.get("content")
            if isinstance(content, list):  # [{"type":"text","text":...}] parts
                if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                           for p in content):
                    raise BadRequest(f"messages[{i}].content", "only text content parts are supported")
                content = "".join(p["text"] for p in content)
            if content is None:
                content = ""
            if not isinstance(content, str):
                raise BadRequest(f"messages[{i}].content", f"messages[{i}].content must be a string")
            clean.append({"role": m["role"], "content": content})
        r["messages"] = clean
        if body.get("logprobs") not in (None, False):
            raise BadRequest("logprobs", "logprobs are not supported by this server")
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise BadRequest("prompt", "prompt must be a string (batched or token-id prompts are not supported)")
        r["prompt"] = prompt
        if body.get("logprobs") is not None:
            raise BadRequest("logprobs", "logprobs are not supported by this server")
    for key, noop in _UNSUPPORTED.items():
        if key in body and body[key] not in noop:
            raise BadRequest(key, f"{key} is not supported by this server")
    n = _int_or_none(body, "n", 1)
    if n is not None and n > 1:
        raise BadRequest("n", "n > 1 is not supported by this server")
    mt = _int_or_none(body, "max_tokens", 1)
    mct = _int_or_none(body, "max_completion_tokens", 1)
    r["max_tokens"] = mt if mt is not None else mct
    r["temperature"] = _num(body, "temperature", 1.0, 0.0, 2.0)
    r["top_p"] = _num(body, "top_p", 1.0, 0.0, 1.0, lo_open=True)
    r["seed"] = _int_or_none(body, "seed")
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    elif not (isinstance(stop, list) and all(isinstance(x, str) for x in stop)):
        raise BadRequest("stop", "stop must be a string or a list of strings")
    r["stop"] = stop
    sti = body.get("stop_token_ids")
    if sti is not None and not (isinstance(sti, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in sti)):
        raise BadRequest("stop_token_ids", "stop_token_ids must be a list of integers")
    r["stop_token_ids"] = sti or []
    for key in ("stream", "ignore_eos"):
        v = body.get(key)
        if v is not None and not isinstance(v, bool):
            raise BadRequest(key, f"{key} must be a boolean")
        r[key] = bool(v)
    so = body.get("stream_options")
    if so is not None and not isinstance(so, dict):
        raise BadRequest("stream_options", "stream_options must be an object")
    r["include_usage"] = bool((so or {}).get("include_usage"))
    return r


API_KEY_ENV = "LORAPLANE_SERVE_API_KEY"
FAULTS_ENV = "LORAPLANE_SERVE_FAULT_INJECTION"


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def security_options(args, environ) -> tuple:
    """(api key or None, fault injection enabled): flags win, then LORAPLANE_SERVE_API_KEY / _FAULT_INJECTION.
    VLLM_API_KEY is honoured too, so one Secret can configure either serving backend."""
    api_key = getattr(args, "api_key", None) or environ.get(API_KEY_ENV) or environ.get("VLLM_API_KEY") or None
    faults_on = bool(getattr(args, "enable_fault_injection", False)) or _truthy(environ.get(FAULTS_ENV))
    return api_key, faults_on


def create_app(engine: Engine, served_name: str, latency_ms: float = 0.0, error_rate: float = 0.0,
               max_new_tokens_cap: Optional[int] = None, api_key: Optional[str] = None,
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

    async def json_object(req: Request):
        try:
            body = json.loads(await req.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    @app.post("/v1/load_lora_adapter")
    async def load_lora(req: Request):
        body = await json_object(req)
        if body is None:
            return error(400, "request body must be a JSON object")
        name, path = body.get("lora_name"), body.get("lora_path")
        if not isinstance(name, str) or not isinstance(path, str):
            return error(400, "lora_name and lora_path must be strings")
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
        body = await json_object(req)
        if body is None:
            return error(400, "request body must be a JSON object")
        name = body.get("lora_name")
        if name not in engine.adapters:
            return error(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        await asyncio.to_thread(engine.unload_adapter, name)
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    async def run(req: Request, chat: bool):
        try:
            body = json.loads(await req.body() or b"null")
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, f"request body is not valid JSON: {e}")
        try:
            r = parse_request(body, chat)
        except BadRequest as e:
            return error(400, str(e), param=e.param)
        name = r["model"] or served_name
        if name not in model_ids():
            return error(404, f"The model `{name}` does not exist.", "NotFoundError", "model")
        if chat:
            fmt = engine.formatter_for(None if name == served_name else name)
            try:
                raw, prompt = fmt.mode == "alpaca", fmt.prompt_from_messages(r["messages"])
            except Exception as e:  # noqa: BLE001 - e.g. a chat template that rejects the roles
                return error(400, f"cannot render the messages: {e}", param="messages")
        else:
            raw, prompt = True, r["prompt"]
        try:
            prompt_ids = engine.encode(prompt, raw)
        except Exception as e:  # noqa: BLE001 - e.g. a chat template that rejects the roles
            return error(400, f"cannot render the prompt: {e}", param="messages" if chat else "prompt")
        ctx_len = engine.context
        room = None if ctx_len is None else ctx_len - len(prompt_ids)
        if room is not None and room < 1:
            return error(400, f"This model's maximum context length is {ctx_len} tokens. However, your "
                              f"{'messages' if chat else 'prompt'} resulted in {len(prompt_ids)} tokens.",
                         param="messages" if chat else "prompt")
        max_tokens = r["max_tokens"]
        if max_tokens is None:  # vLLM: 16 for completions (OpenAI's legacy default), the rest of the context for chat
            max_tokens = 16 if not chat else (room or 16)
        elif room is not None and max_tokens > room:
            return error(400, f"This model's maximum context length is {ctx_len} tokens. However, you requested "
                              f"{len(prompt_ids) + max_tokens} tokens ({len(prompt_ids)} in the "
                              f"{'messages' if chat else 'prompt'}, {max_tokens} in the completion).",
                         param="max_tokens")
        if room is not None:
            max_tokens = min(max_tokens, room)
        if max_new_tokens_cap:
            max_tokens = min(max_tokens, max_new_tokens_cap)
        adapter = None if name == served_name else name
        stream, include_usage = r["stream"], r["include_usage"]
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        t0 = time.monotonic()

        if random.random() < faults["errorRate"]:
            return error(500, "injected error (fault injection)", "InternalServerError")
        if faults["latencyMs"] > 0:
            await asyncio.sleep(faults["latencyMs"] / 1000)

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        first = {"t": None}
        cancel = threading.Event()
        metrics.waiting.labels(name).inc()

        def on_text(delta: str):
            if first["t"] is None:
                first["t"] = time.monotonic()
            loop.call_soon_threadsafe(queue.put_nowait, ("text", delta))

        def work():
            # Gauges are moved here, in the worker, so an aborted request always leaves them balanced.
            started = []

            def on_start():  # the worker holds the model lock now
                started.append(True)
                metrics.waiting.labels(name).dec()
                metrics.running.labels(name).inc()

            try:
                res = engine.generate(prompt_ids, adapter, max_tokens, r["temperature"], r["top_p"], on_text,
                                      r["seed"], on_start, r["stop"], r["stop_token_ids"], r["ignore_eos"], cancel)
                if res["finish_reason"] == "abort":  # counted like vLLM's finished_reason="abort"
                    metrics.success.labels(name, "abort").inc()
                loop.call_soon_threadsafe(queue.put_nowait, ("done", res))
            except Exception as e:  # noqa: BLE001 - surfaced to the client
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))
            finally:
                (metrics.running if started else metrics.waiting).labels(name).dec()

        fut = loop.run_in_executor(None, work)

        def finish(res):
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
            try:
                while True:
                    try:
                        kind, val = await asyncio.wait_for(queue.get(), 0.25)
                    except asyncio.TimeoutError:
                        if await req.is_disconnected():
                            cancel.set()
                            return Response(status_code=499)
                        continue
                    if kind == "done":
                        break
                    if kind == "error":
                        return error(500, str(val), "InternalServerError")
            finally:
                if not fut.done():
                    cancel.set()
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
            try:
                if chat:
                    yield f"data: {json.dumps(chunk(None, role=True))}\n\n"
                while True:
                    kind, val = await queue.get()
                    if kind == "text":
                        yield f"data: {json.dumps(chunk(val))}\n\n"
                    elif kind == "error":
                        err = {"error": {"message": str(val), "type": "InternalServerError", "param": None, "code": 500}}
                        yield f"data: {json.dumps(err)}\n\n"
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
            finally:
                # Client went away (the response task is cancelled) or we are done: stop generating.
                cancel.set()

        return StreamingResponse(sse(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(req: Request):
        return await run(req, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(req: Request):
        return await run(req, chat=True)

    return app


def main(args) -> None:
    import uvicorn

    from .errors import ConfigError

    if not os.path.isfile(os.path.join(args.model, "config.json")):
        raise ConfigError(f"base model not found: {args.model}")
    served = args.served_model_name or os.path.basename(os.path.abspath(args.model))
    engine = Engine(args.model, prompt_template=args.prompt_template, attn_implementation=args.attn_implementation,
                    trust_remote_code=args.trust_remote_code)
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
