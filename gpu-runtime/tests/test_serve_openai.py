"""Defect 7: serve follows the OpenAI API (and vLLM's defaults) instead of answering 500 or ignoring fields."""
import json
import socket
import threading
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient

from loraplane_runtime.serve import Engine, create_app


@pytest.fixture(scope="module")
def short_client(short_model):
    engine = Engine(short_model)
    return TestClient(create_app(engine, "short")), engine


def _err(r, param=None):
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["message"] and e["code"] == 400
    if param:
        assert e["param"] == param, e
    return e


def test_openai_shaped_400s(short_client):
    c, _ = short_client
    assert "JSON" in _err(c.post("/v1/completions", content=b'{"prompt": "ab",', headers={"content-type": "application/json"}))["message"]
    _err(c.post("/v1/chat/completions", content=b"[1, 2]", headers={"content-type": "application/json"}))
    base = {"model": "short", "prompt": "ab", "max_tokens": 2}
    assert c.post("/v1/completions", json={**base, "temperature": None, "top_p": None, "n": None}).status_code == 200
    _err(c.post("/v1/completions", json={**base, "temperature": "hot"}), "temperature")
    _err(c.post("/v1/completions", json={**base, "temperature": 3}), "temperature")
    _err(c.post("/v1/completions", json={**base, "max_tokens": 0}), "max_tokens")
    _err(c.post("/v1/completions", json={**base, "max_tokens": -1}), "max_tokens")
    _err(c.post("/v1/completions", json={**base, "n": 2}), "n")
    _err(c.post("/v1/completions", json={**base, "logprobs": 1}), "logprobs")
    _err(c.post("/v1/completions", json={**base, "presence_penalty": 0.5}), "presence_penalty")
    _err(c.post("/v1/completions", json={**base, "stop": 5}), "stop")
    _err(c.post("/v1/completions", json={**base, "prompt": ["a", "b"]}), "prompt")
    chat = {"model": "short", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert c.post("/v1/chat/completions", json=chat).status_code == 200
    _err(c.post("/v1/chat/completions", json={**chat, "logprobs": True}), "logprobs")
    _err(c.post("/v1/chat/completions", json={**chat, "messages": [{"role": "user", "content": 5}]}), "messages[0].content")
    _err(c.post("/v1/chat/completions", json={**chat, "max_tokens": 500}), "max_tokens")  # beyond the 128-token context
    _err(c.post("/v1/load_lora_adapter", content=b"nope", headers={"content-type": "application/json"}))


def test_vllm_max_tokens_defaults(short_client):
    c, _ = short_client
    r = c.post("/v1/completions", json={"model": "short", "prompt": "ab", "temperature": 0, "ignore_eos": True}).json()
    assert r["usage"]["completion_tokens"] == 16  # completions: 16, like vLLM and OpenAI
    r = c.post("/v1/chat/completions", json={"model": "short", "messages": [{"role": "user", "content": "hi"}],
                                             "temperature": 0, "ignore_eos": True}).json()
    u = r["usage"]
    assert u["completion_tokens"] == 128 - u["prompt_tokens"]  # chat: the rest of the context
    assert r["choices"][0]["finish_reason"] == "length"


def test_stop_strings_are_honoured_streaming_and_not(short_client):
    c, _ = short_client
    body = {"model": "short", "prompt": "hello", "temperature": 0, "max_tokens": 24, "ignore_eos": True}
    full = c.post("/v1/completions", json=body).json()["choices"][0]["text"]
    assert len(full) >= 10, full
    stop = full[6:9]
    cut = full.find(stop)
    r = c.post("/v1/completions", json={**body, "stop": ["\u0000never", stop]}).json()
    assert r["choices"][0]["text"] == full[:cut]
    assert r["choices"][0]["finish_reason"] == "stop"
    with c.stream("POST", "/v1/completions", json={**body, "stop": stop, "stream": True}) as s:
        frames = [l[6:] for l in s.iter_lines() if l.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert "".join(ch["choices"][0]["text"] for ch in chunks) == full[:cut]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def _metric(url, name):
    text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + "{"))


def test_disconnected_stream_is_cancelled(tiny_model):
    import uvicorn

    engine = Engine(tiny_model)
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, "tiny"), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        body = json.dumps({"model": "tiny", "prompt": "ab", "max_tokens": 2000, "temperature": 0,
                           "ignore_eos": True, "stream": True}).encode()
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        conn.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        buf = b""
        while b"data: " not in buf:  # generation has started
            got = conn.recv(4096)
            assert got, buf
            buf += got
        assert _metric(url, "vllm:num_requests_running") == 1
        conn.close()  # the client goes away mid-stream
        deadline = time.time() + 20
        while _metric(url, "vllm:num_requests_running") != 0 and time.time() < deadline:
            time.sleep(0.05)
        assert _metric(url, "vllm:num_requests_running") == 0
        text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
        assert 'vllm:request_success_total{finished_reason="abort",model_name="tiny"} 1.0' in text, text
        assert _metric(url, "vllm:num_requests_waiting") == 0
        assert not engine.lock.locked()  # the worker stopped generating
        # the next request is served at once
        r = urllib.request.urlopen(urllib.request.Request(url + "/v1/completions", method="POST",
                                   data=json.dumps({"model": "tiny", "prompt": "a", "max_tokens": 2}).encode(),
                                   headers={"Content-Type": "application/json"}), timeout=30)
        assert r.status == 200
    finally:
        server.should_exit = True
        th.join(timeout=30)
