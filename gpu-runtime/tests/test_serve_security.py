"""#11 finding 10 (runtime side): serve requires the API key when one is configured; /admin/faults only when enabled."""
import pytest
from fastapi.testclient import TestClient

from loraplane_runtime.cli import build_parser
from loraplane_runtime.serve import Engine, create_app, security_options


@pytest.fixture(scope="module")
def engine(tiny_model):
    return Engine(tiny_model)


def test_api_key_required_on_v1_and_admin(engine):
    c = TestClient(create_app(engine, "tiny", api_key="s3cret", enable_fault_injection=True))
    body = {"model": "tiny", "prompt": "ab", "max_tokens": 2, "temperature": 0}
    for method, path, payload in (("get", "/v1/models", None), ("post", "/v1/completions", body),
                                  ("post", "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": "/tmp"}),
                                  ("post", "/admin/faults", {"latencyMs": 5})):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = c.get(path, headers=headers) if method == "get" else c.post(path, json=payload, headers=headers)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.json()["error"]["type"] == "AuthenticationError"
            assert "s3cret" not in r.text
    ok = {"Authorization": "Bearer s3cret"}
    assert c.get("/v1/models", headers=ok).status_code == 200
    assert c.post("/v1/completions", json=body, headers=ok).status_code == 200
    assert c.get("/admin/faults", headers=ok).json() == {"latencyMs": 0.0, "errorRate": 0.0}
    # probes and scrapers stay open, like vLLM
    assert c.get("/health").status_code == 200
    assert c.get("/metrics").status_code == 200


def test_fault_injection_is_off_by_default(engine):
    c = TestClient(create_app(engine, "tiny"))
    assert c.post("/admin/faults", json={"errorRate": 1.0}).status_code == 404
    assert c.get("/admin/faults").status_code == 404
    r = c.post("/v1/completions", json={"model": "tiny", "prompt": "ab", "max_tokens": 2, "temperature": 0})
    assert r.status_code == 200


def test_security_options_from_flags_and_env():
    p = build_parser()
    args = p.parse_args(["serve", "--model", "/m"])
    assert security_options(args, {}) == (None, False)
    assert security_options(args, {"LORAPLANE_SERVE_API_KEY": "k", "LORAPLANE_SERVE_FAULT_INJECTION": "1"}) == ("k", True)
    assert security_options(args, {"LORAPLANE_SERVE_FAULT_INJECTION": "0"}) == (None, False)
    assert security_options(args, {"VLLM_API_KEY": "v"}) == ("v", False)  # the same Secret as vLLM's
    args = p.parse_args(["serve", "--model", "/m", "--api-key", "f", "--enable-fault-injection"])
    assert security_options(args, {"LORAPLANE_SERVE_API_KEY": "k"}) == ("f", True)
