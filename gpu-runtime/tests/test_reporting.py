import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loraplane_runtime.reporting import HttpReporter, point


def _ingest_server(fail_first):
    got = []
    state = {"fails": fail_first}

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state["fails"] > 0:
                state["fails"] -= 1
                self.send_response(503)
                self.end_headers()
                return
            got.append((self.path, self.headers["Authorization"], body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, got


def test_http_reporter_batches_retries_and_flushes():
    srv, got = _ingest_server(fail_first=1)
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    rep = HttpReporter("run_x", url, "tok", flush_interval=0.2, backoff_s=0.05)
    rep.metrics([point("train/loss", i, 1.0 / (i + 1)) for i in range(2500)])
    rep.progress("train", 5, 10, 3.0)
    rep.artifact("adapter", "/tmp/a", "ab" * 32, 10)
    rep.close()
    srv.shutdown()
    metrics = [b for p, _, b in got if p == "/api/v1/ingest/runs/run_x/metrics"]
    assert all(a == "Bearer tok" for _, a, _ in got)
    assert all(len(b["points"]) <= 1000 for b in metrics)
    steps = sorted(pt["step"] for b in metrics for pt in b["points"])
    assert steps == list(range(2500))  # nothing lost despite the 503
    hb = [b for p, _, b in got if p.endswith("/heartbeat")]
    assert {"stage": "train", "step": 5, "totalSteps": 10, "progress": 0.5, "etaSeconds": 3.0} in hb
    arts = [b for p, _, b in got if p.endswith("/artifacts")]
    assert arts[0]["artifacts"][0] == {"kind": "adapter", "uri": "file:///tmp/a", "sha256": "ab" * 32, "sizeBytes": 10}


def test_http_reporter_bounded_buffer_drops_oldest():
    rep = HttpReporter("run_y", "http://127.0.0.1:9", "tok", buffer_limit=100, flush_interval=3600, max_retries=0)
    rep.metrics([point("k", i, 0.0) for i in range(250)])
    assert rep.dropped == 150
    assert [p["step"] for p in rep.buffer] == list(range(150, 250))
    rep._stop.set()


def test_cli_reports_over_http_when_configured(work, tiny_model, demo_data):
    from conftest import events, run_cli, write_job

    srv, got = _ingest_server(fail_first=0)
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    job = write_job(work / "http-eval.json", base=tiny_model, data=demo_data, out=str(work / "http-eval"), stage="eval",
                    eval_={"maxSamples": 4, "maxNewTokens": 4})
    r = run_cli(["evaluate", "--config", job], env={"LORAPLANE_URL": url, "LORAPLANE_RUN_TOKEN": "secret"})
    srv.shutdown()
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    assert [e["event"] for e in evs] == ["result"]  # in HTTP mode stdout carries only the result
    paths = {p for p, _, _ in got}
    base = "/api/v1/ingest/runs/run_test"
    assert {base + "/metrics", base + "/heartbeat", base + "/artifacts"} <= paths
    keys = {pt["key"] for p, _, b in got if p.endswith("/metrics") for pt in b["points"]}
    assert "eval/rouge_l" in keys and "eval/safety_pass_rate" in keys
    assert all(a == "Bearer secret" for _, a, _ in got)
