"""Runtime spans over OTLP/HTTP JSON to a local collector: children of the worker's TRACEPARENT, run id on each span,
off without an endpoint, never failing the workload when the collector is down."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import events, run_cli, write_job
from loraplane_runtime import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
STAGE_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{STAGE_SPAN}-01"


@pytest.fixture
def collector():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            assert self.path == "/v1/traces"
            assert self.headers["content-type"] == "application/json"
            for rs in body["resourceSpans"]:
                service = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}["service.name"]["stringValue"]
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        received.append({**sp, "service": service,
                                         "attrs": {a["key"]: next(iter(a["value"].values())) for a in sp["attributes"]}})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def tracing_off_after():
    yield
    tracing.start("x", "train", environ={})


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_spans_are_children_of_traceparent_with_the_run_id(collector):
    url, received = collector
    tracing.start("run_42", "train", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": url + "/", "TRACEPARENT": TRACEPARENT})
    with tracing.span("runtime train"):
        with tracing.span("load model"):
            pass
        with pytest.raises(ValueError):
            with tracing.span("train loop", **{"loraplane.total_steps": 3}):
                raise ValueError("diverged")
    spans = by_name(received)
    assert set(spans) == {"runtime train", "load model", "train loop"}
    root = spans["runtime train"]
    assert root["parentSpanId"] == STAGE_SPAN
    for s in received:
        assert s["traceId"] == TRACE_ID
        assert s["service"] == "loraplane-runtime"
        assert s["attrs"]["loraplane.run_id"] == "run_42"
        assert s["attrs"]["loraplane.stage"] == "train"
        assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 0
    assert spans["load model"]["parentSpanId"] == root["spanId"]
    assert spans["train loop"]["parentSpanId"] == root["spanId"]
    assert spans["train loop"]["attrs"]["loraplane.total_steps"] == "3"
    assert spans["train loop"]["status"] == {"code": 2, "message": "ValueError: diverged"}
    assert spans["load model"]["status"] == {"code": 1}
    assert len({s["spanId"] for s in received}) == 3


def test_off_without_endpoint_unsampled_or_on_other_ranks(collector):
    url, received = collector
    for env in ({"TRACEPARENT": TRACEPARENT},
                {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "TRACEPARENT": f"00-{TRACE_ID}-{STAGE_SPAN}-00"},
                {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "TRACEPARENT": TRACEPARENT, "RANK": "1"}):
        tracing.start("run_1", "train", environ=env)
        with tracing.span("runtime train"):
            pass
    assert received == []


def test_without_traceparent_a_new_trace_starts(collector):
    url, received = collector
    tracing.start("run_2", "eval", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": url, "TRACEPARENT": "garbage"})
    with tracing.span("runtime evaluate"):
        pass
    (only,) = received
    assert "parentSpanId" not in only
    assert len(only["traceId"]) == 32 and only["traceId"] != "0" * 32


def test_an_unreachable_collector_does_not_fail_the_workload(capsys):
    tracing.start("run_3", "train", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "TRACEPARENT": TRACEPARENT})
    with tracing.span("a"):
        with tracing.span("b"):
            pass
    err = capsys.readouterr().err
    assert err.count("tracing: cannot export spans") == 1


def test_train_and_evaluate_emit_their_phases(collector, tmp_path, tiny_model, demo_data):
    url, received = collector
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "TRACEPARENT": TRACEPARENT}
    out = tmp_path / "train"
    job = write_job(tmp_path / "train.json", base=tiny_model, data=demo_data, out=str(out), training={"maxSteps": 2})
    r = run_cli(["train", "--config", job], env=env)
    assert r.returncode == 0, r.stderr
    adapter = [e for e in events(r.stdout) if e["event"] == "result"][-1]["adapterDir"]
    job = write_job(tmp_path / "eval.json", base=tiny_model, data=demo_data, out=str(tmp_path / "eval"), adapter=adapter,
                    stage="eval", eval_={"metrics": ["exact_match"], "maxSamples": 4, "maxNewTokens": 4})
    r = run_cli(["evaluate", "--config", job], env=env)
    assert r.returncode == 0, r.stderr

    train = [s for s in received if s["attrs"]["loraplane.stage"] == "train"]
    evaluate = [s for s in received if s["attrs"]["loraplane.stage"] == "eval"]
    for spans, root_name, phases in ((train, "runtime train", {"load model", "train loop", "save adapter"}),
                                     (evaluate, "runtime evaluate", {"load model", "generate", "score"})):
        named = by_name(spans)
        assert set(named) == {root_name, *phases}
        assert named[root_name]["parentSpanId"] == STAGE_SPAN
        for phase in phases:
            assert named[phase]["parentSpanId"] == named[root_name]["spanId"]
        assert all(s["traceId"] == TRACE_ID and s["attrs"]["loraplane.run_id"] == "run_test" for s in spans)
    assert by_name(train)["train loop"]["attrs"]["loraplane.total_steps"] == "2"
    assert by_name(evaluate)["generate"]["attrs"]["loraplane.samples"] == "4"
