"""Reports to the control plane: HTTP ingest API when configured, JSON lines on stdout otherwise.

stdout is reserved for machine-readable events (one JSON object per line); human
logs go to stderr via `log()`. HTTP uses only urllib so the runtime image needs
no extra dependency.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Optional

MAX_POINTS_PER_REQUEST = 1000
FLUSH_INTERVAL_S = 2.0
HEARTBEAT_INTERVAL_S = 10.0
DEFAULT_BUFFER_LIMIT = 100_000


def log(msg: str) -> None:
    print(f"[loraplane-runtime] {msg}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def point(key: str, step: int, value: float) -> dict:
    return {"key": key, "step": int(step), "value": float(value), "timestamp": now_ms()}


class Reporter:
    """Base: tracks progress so heartbeats can repeat the latest state."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self._progress = {"stage": "", "step": 0, "totalSteps": 0, "progress": 0.0, "etaSeconds": None}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _start(self, target) -> None:
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self._threads.append(t)

    def metrics(self, points: list) -> None:
        raise NotImplementedError

    def progress(self, stage: str, step: int, total_steps: int, eta_seconds: Optional[float]) -> None:
        frac = min(1.0, step / total_steps) if total_steps else 0.0
        with self._lock:
            self._progress = {"stage": stage, "step": int(step), "totalSteps": int(total_steps),
                              "progress": frac, "etaSeconds": eta_seconds}

    def artifact(self, kind: str, path: str, sha256: str, size: int) -> None:
        raise NotImplementedError

    def result(self, payload: dict) -> None:
        # The result line always goes to stdout: workers read it even in HTTP mode.
        _emit({"event": "result", **payload})

    def resumed(self, checkpoint: str, step: int) -> None:
        """The attempt continued from a checkpoint (shown on the run page). Over HTTP the control plane already
        recorded what it handed over, and the result line repeats it."""

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class StdoutReporter(Reporter):
    def __init__(self, run_id: str, heartbeat_interval: float = HEARTBEAT_INTERVAL_S):
        super().__init__(run_id)
        self._out_lock = threading.Lock()
        self._hb_interval = heartbeat_interval
        self._start(self._heartbeat_loop)

    def _write(self, obj: dict) -> None:
        with self._out_lock:
            _emit(obj)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._hb_interval):
            self._write({"event": "heartbeat", "ts": now_ms()})

    def metrics(self, points: list) -> None:
        if points:
            self._write({"event": "metrics", "points": points})

    def progress(self, stage, step, total_steps, eta_seconds) -> None:
        super().progress(stage, step, total_steps, eta_seconds)
        with self._lock:
            snap = dict(self._progress)
        self._write({"event": "progress", **snap})

    def artifact(self, kind, path, sha256, size) -> None:
        self._write({"event": "artifact", **_artifact(kind, path, sha256, size)})

    def resumed(self, checkpoint, step) -> None:
        self._write({"event": "resumed", "checkpoint": checkpoint, "step": int(step)})

    def result(self, payload: dict) -> None:
        with self._out_lock:
            _emit({"event": "result", **payload})


def _artifact(kind: str, path: str, sha256: str, size: int) -> dict:
    return {"kind": kind, "uri": "file://" + os.path.abspath(path), "sha256": sha256, "sizeBytes": int(size)}


class HttpReporter(Reporter):
    """Buffered metric batches + heartbeats to `$LORAPLANE_URL/api/v1/ingest/runs/{runId}/...`."""

    def __init__(self, run_id: str, base_url: str, token: str, *, buffer_limit: int = DEFAULT_BUFFER_LIMIT,
                 flush_interval: float = FLUSH_INTERVAL_S, heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
                 max_retries: int = 5, backoff_s: float = 0.5, timeout_s: float = 10.0):
        super().__init__(run_id)
        self.base = f"{base_url.rstrip('/')}/api/v1/ingest/runs/{run_id}"
        self.token = token
        self.buffer: collections.deque = collections.deque()
        self.buffer_limit = buffer_limit
        self.dropped = 0
        self.flush_interval = flush_interval
        self.hb_interval = heartbeat_interval
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._full = threading.Event()
        self._flush_lock = threading.Lock()
        self._last_hb = 0.0
        self._start(self._flush_loop)
        self._start(self._heartbeat_loop)

    # -- transport -----------------------------------------------------------------
    def _post(self, suffix: str, body: dict) -> bool:
        """POST with retries on 5xx / connection errors; 4xx is not retried (the request is wrong)."""
        data = json.dumps(body).encode()
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(self.base + suffix, data=data, method="POST", headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    resp.read()
                return True
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    log(f"report {suffix} rejected with HTTP {e.code}; not retrying")
                    return False
                err = f"HTTP {e.code}"
            except (urllib.error.URLError, OSError) as e:
                err = str(e)
            if attempt < self.max_retries:
                delay = self.backoff_s * (2 ** attempt)
                log(f"report {suffix} failed ({err}); retry {attempt + 1}/{self.max_retries} in {delay:.1f}s")
                time.sleep(delay)
        return False

    # -- metrics -------------------------------------------------------------------
    def metrics(self, points: list) -> None:
        with self._lock:
            for p in points:
                if len(self.buffer) >= self.buffer_limit:
                    self.buffer.popleft()
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 1000 == 0:
                        log(f"warning: metric buffer full; dropped {self.dropped} oldest point(s) so far")
                self.buffer.append(p)
            if len(self.buffer) >= MAX_POINTS_PER_REQUEST:
                self._full.set()

    def flush(self) -> None:
        with self._flush_lock:
            while True:
                with self._lock:
                    batch = [self.buffer.popleft() for _ in range(min(len(self.buffer), MAX_POINTS_PER_REQUEST))]
                if not batch:
                    return
                if not self._post("/metrics", {"points": batch}):
                    with self._lock:  # put back at the front, keeping the bound
                        self.buffer.extendleft(reversed(batch))
                        while len(self.buffer) > self.buffer_limit:
                            self.buffer.popleft()
                            self.dropped += 1
                    return

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._full.wait(self.flush_interval)
            self._full.clear()
            self.flush()

    # -- heartbeat / progress ------------------------------------------------------
    def _send_heartbeat(self) -> None:
        with self._lock:
            snap = dict(self._progress)
        self._last_hb = time.monotonic()
        self._post("/heartbeat", snap)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(1.0):
            if time.monotonic() - self._last_hb >= self.hb_interval:
                self._send_heartbeat()

    def progress(self, stage, step, total_steps, eta_seconds) -> None:
        super().progress(stage, step, total_steps, eta_seconds)
        # Throttle progress-driven heartbeats to 1/s so a fast loop does not flood the API.
        if time.monotonic() - self._last_hb >= 1.0:
            self._send_heartbeat()

    def artifact(self, kind, path, sha256, size) -> None:
        self._post("/artifacts", {"artifacts": [_artifact(kind, path, sha256, size)]})

    def close(self) -> None:
        super().close()
        self._send_heartbeat()
        self.flush()
        if self.dropped:
            log(f"warning: {self.dropped} metric point(s) were dropped (buffer limit {self.buffer_limit})")


class NullReporter(Reporter):
    """Non-zero ranks of a distributed job stay silent; rank 0 reports for the group."""

    def metrics(self, points):
        pass

    def progress(self, stage, step, total_steps, eta_seconds):
        pass

    def artifact(self, kind, path, sha256, size):
        pass

    def result(self, payload):
        pass


def make_reporter(run_id: str, rank: int = 0) -> Reporter:
    if rank != 0:
        return NullReporter(run_id)
    url, token = os.environ.get("LORAPLANE_URL"), os.environ.get("LORAPLANE_RUN_TOKEN")
    if url and token:
        return HttpReporter(run_id, url, token)
    return StdoutReporter(run_id)
