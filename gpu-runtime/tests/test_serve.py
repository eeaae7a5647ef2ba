import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import torch

from conftest import RUNTIME


def _random_adapter(base, out, seed):
    """A LoRA adapter with non-zero B, so its outputs differ from the base model's."""
    from peft import LoraConfig, get_peft_model

    from loraplane_runtime.modeling import load_base_model

    torch.manual_seed(seed)
    model = get_peft_model(load_base_model(base), LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "down_proj"],
                                                             init_lora_weights=False))
    model.save_pretrained(out)
    return str(out)


def _req(url, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def server(work, tiny_model):
    a1 = _random_adapter(tiny_model, work / "ad1", 1)
    a2 = _random_adapter(tiny_model, work / "ad2", 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(RUNTIME + ["serve", "--model", tiny_model, "--served-model-name", "tiny",
                                       "--adapter", f"a1={a1}", "--adapter", f"a2={a2}", "--port", str(port),
                                       "--max-new-tokens-cap", "12", "--enable-fault-injection"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if _req(url + "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError(proc.stderr.read())
    yield url, a1
    proc.terminate()
    proc.wait(timeout=30)


def _complete(url, model, prompt="abc", n=8):
    st, body = _req(url + "/v1/completions", {"model": model, "prompt": prompt, "max_tokens": n, "temperature": 0})
    assert st == 200, body
    return json.loads(body)


def test_models_and_non_streaming_with_two_adapters(server):
    url, _ = server
    ids = [m["id"] for m in json.loads(_req(url + "/v1/models")[1])["data"]]
    assert ids == ["tiny", "a1", "a2"]
    outs = {m: _complete(url, m) for m in ids}
    for m, r in outs.items():
        assert r["model"] == m and r["object"] == "text_completion"
        u = r["usage"]
        assert u["prompt_tokens"] == 3 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    texts = {m: r["choices"][0]["text"] for m, r in outs.items()}
    assert len(set(texts.values())) == 3, texts  # each adapter really changes the model
    assert _complete(url, "a1")["choices"][0]["text"] == texts["a1"]  # greedy is deterministic
    assert _complete(url, "a1", n=100)["usage"]["completion_tokens"] <= 12  # --max-new-tokens-cap


def test_chat_streaming_matches_non_streaming(server):
    url, _ = server
    body = {"model": "a2", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "temperature": 0}
    st, plain = _req(url + "/v1/chat/completions", body)
    assert st == 200
    plain = json.loads(plain)
    assert plain["object"] == "chat.completion" and "usage" in plain
    st, raw = _req(url + "/v1/chat/completions", {**body, "stream": True, "stream_options": {"include_usage": True}})
    assert st == 200
    frames = [f for f in raw.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"] == plain["usage"]
    assert chunks[-2]["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]


def test_load_unload_adapter_and_unknown_model(server):
    url, a1 = server
    st, _ = _req(url + "/v1/load_lora_adapter", {"lora_name": "a3", "lora_path": a1})
    assert st == 200
    assert _complete(url, "a3")["choices"][0]["text"] == _complete(url, "a1")["choices"][0]["text"]
    assert _req(url + "/v1/load_lora_adapter", {"lora_name": "a3", "lora_path": a1})[0] == 400
    assert _req(url + "/v1/unload_lora_adapter", {"lora_name": "a3"})[0] == 200
    assert "a3" not in _req(url + "/v1/models")[1]
    st, body = _req(url + "/v1/completions", {"model": "a3", "prompt": "x", "max_tokens": 2})
    assert st == 404 and "does not exist" in body
    assert _req(url + "/v1/unload_lora_adapter", {"lora_name": "a3"})[0] == 404


def test_fault_injection_and_metrics(server):
    url, _ = server
    t = time.monotonic()
    _complete(url, "tiny", n=2)
    fast = time.monotonic() - t
    _req(url + "/admin/faults", {"latencyMs": 600})
    t = time.monotonic()
    _complete(url, "tiny", n=2)
    assert time.monotonic() - t >= 0.6 > fast
    _req(url + "/admin/faults", {"latencyMs": 0, "errorRate": 1.0})
    st, body = _req(url + "/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 2})
    assert st == 500 and "injected" in body
    assert json.loads(_req(url + "/admin/faults", {"errorRate": 0})[1]) == {"latencyMs": 0.0, "errorRate": 0.0}
    metrics = _req(url + "/metrics")[1]
    for name in ("vllm:e2e_request_latency_seconds_bucket", "vllm:time_to_first_token_seconds_bucket",
                 "vllm:generation_tokens_total", "vllm:num_requests_running", "vllm:num_requests_waiting"):
        assert name in metrics
    line = next(l for l in metrics.splitlines() if l.startswith('vllm:time_to_first_token_seconds_sum{model_name="tiny"}'))
    assert float(line.split()[-1]) >= 0.6  # injected latency lands before the first token
