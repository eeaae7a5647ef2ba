"""OpenTelemetry spans for train/evaluate, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

The worker starts each workload with TRACEPARENT (W3C) set to its stage span, so the runtime's spans join the run's
trace (web → worker → runtime). Spans go out as OTLP/HTTP JSON to ``<endpoint>/v1/traces`` with the standard library
only: the runtime's hard dependencies stay torch, transformers, peft and safetensors, and the same code runs in the
GPU image, which has no opentelemetry packages. Each span is sent when it ends (a handful per stage, none per step),
so a killed workload still leaves the phases it finished. Exporting never fails the workload: the first error is
logged once, later ones are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request

from .reporting import log

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
EXPORT_TIMEOUT_S = 2.0


def _attr(key: str, value) -> dict:
    if isinstance(value, bool):
        v = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}  # int64 is a string in OTLP JSON
    elif isinstance(value, float):
        v = {"doubleValue": value}
    else:
        v = {"stringValue": str(value)}
    return {"key": key, "value": v}


class Tracer:
    """Spans of one workload: children of ``traceparent`` (or a new trace when there is none)."""

    def __init__(self, endpoint: str, traceparent: str | None, attributes: dict, service_name: str = "loraplane-runtime"):
        self.url = endpoint.rstrip("/") + "/v1/traces"
        self.attributes = attributes
        self.service_name = service_name
        m = _TRACEPARENT.match((traceparent or "").strip().lower())
        if m and m.group(1) != "0" * 32 and m.group(2) != "0" * 16:
            self.trace_id, parent, flags = m.group(1), m.group(2), m.group(3)
            # The caller decided not to sample this trace: record nothing.
            self.sampled = int(flags, 16) & 1 == 1
        else:
            self.trace_id, parent, self.sampled = secrets.token_hex(16), None, True
        self._stack: list[str | None] = [parent]
        self._failed = False

    @contextlib.contextmanager
    def span(self, name: str, **attributes):
        if not self.sampled:
            yield
            return
        span_id = secrets.token_hex(8)
        parent = self._stack[-1]
        self._stack.append(span_id)
        start = time.time_ns()
        status = {"code": 1}  # OK
        try:
            yield
        except BaseException as exc:
            status = {"code": 2, "message": f"{type(exc).__name__}: {exc}"[:500]}
            raise
        finally:
            self._stack.pop()
            span = {"traceId": self.trace_id, "spanId": span_id, "name": name, "kind": 1,
                    "startTimeUnixNano": str(start), "endTimeUnixNano": str(time.time_ns()),
                    "attributes": [_attr(k, v) for k, v in {**self.attributes, **attributes}.items()], "status": status}
            if parent:
                span["parentSpanId"] = parent
            self._export(span)

    def _export(self, span: dict) -> None:
        body = {"resourceSpans": [{
            "resource": {"attributes": [_attr("service.name", self.service_name)]},
            "scopeSpans": [{"scope": {"name": "loraplane_runtime"}, "spans": [span]}],
        }]}
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=EXPORT_TIMEOUT_S) as res:
                res.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if not self._failed:
                self._failed = True
                log(f"tracing: cannot export spans to {self.url} ({exc}); continuing without traces")


class _Off:
    @contextlib.contextmanager
    def span(self, name: str, **attributes):
        yield


_tracer: Tracer | _Off = _Off()


def start(run_id: str, stage: str, environ=None) -> Tracer | _Off:
    """Turns tracing on for this process when an OTLP endpoint is configured (rank 0 only: one set of spans per stage)."""
    global _tracer
    env = os.environ if environ is None else environ
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint or int(env.get("RANK", "0") or 0) != 0:
        _tracer = _Off()
    else:
        _tracer = Tracer(endpoint, env.get("TRACEPARENT"), {"loraplane.run_id": run_id, "loraplane.stage": stage})
    return _tracer


def span(name: str, **attributes):
    """A span around a phase (``with tracing.span("load model"):``); a no-op while tracing is off."""
    return _tracer.span(name, **attributes)
