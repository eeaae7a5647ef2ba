"""`loraplane-runtime` entry point: subcommands, exit codes, one-line errors on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from . import errors as E
from .reporting import log


def _job(args):
    from .config import load_job

    return load_job(args.config)


def cmd_train(args) -> dict:
    from . import tracing
    from .reporting import make_reporter
    from .train import run_train

    job = _job(args)
    tracing.start(job.run_id, "train")
    rep = make_reporter(job.run_id, int(os.environ.get("RANK", 0)))
    try:
        with tracing.span("runtime train"):
            result = run_train(job, rep)
        rep.result(result)
        return result
    finally:
        rep.close()


def cmd_evaluate(args) -> dict:
    from . import tracing
    from .evaluate import run_evaluate
    from .reporting import make_reporter

    job = _job(args)
    tracing.start(job.run_id, "eval")
    rep = make_reporter(job.run_id)
    try:
        with tracing.span("runtime evaluate"):
            result = run_evaluate(job, rep)
        rep.result(result)
        return result
    finally:
        rep.close()


def cmd_serve(args) -> None:
    from .serve import main as serve_main

    serve_main(args)


def cmd_export(args) -> None:
    from .export import run_export

    _print(run_export(args))


def cmd_make_tiny_model(args) -> None:
    from .tiny_model import make_tiny_model

    _print(make_tiny_model(args.output, args.arch, args.layers, args.hidden, args.heads, args.seed))


def cmd_make_demo_data(args) -> None:
    from .demo_data import make_demo_data

    _print(make_demo_data(args.output, args.seed, args.train, args.validation, args.test))


def cmd_sync_adapter(args) -> None:
    from .adapter_sync import sync_adapter

    _print(sync_adapter(args.source, args.dest_root, args.name, args.sha256))


def _print(obj: dict) -> None:
    sys.stdout.write(json.dumps({"event": "result", **obj}) + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loraplane-runtime", description="Loraplane LoRA train / evaluate / serve / export runtime.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="LoRA fine-tune a base model (see README 'Image contract')")
    t.add_argument("--config", required=True, help="job JSON: runId, stage, paths, spec")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="generate on a split and score it (base model, or base + adapter)")
    e.add_argument("--config", required=True, help="job JSON: runId, stage, paths (adapterDir optional), spec.eval")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("serve", help="OpenAI-compatible dev server with LoRA adapters (vLLM's surface)")
    s.add_argument("--model", required=True, help="base model directory")
    s.add_argument("--served-model-name", default=None, help="name of the base model in /v1/models (default: dir name)")
    s.add_argument("--adapter", action="append", default=[], metavar="NAME=DIR", help="LoRA adapter to load at start (repeatable)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--inject-latency-ms", type=float, default=0.0, help="added before the first token of every request")
    s.add_argument("--inject-error-rate", type=float, default=0.0, help="share of requests answered with HTTP 500")
    s.add_argument("--max-new-tokens-cap", type=int, default=None,
                   help="upper bound on max_tokens (default: none, like vLLM: up to the model's context)")
    s.add_argument("--prompt-template", choices=["auto", "alpaca", "chat"], default="auto",
                   help="how chat messages become a prompt: the same rule as training.promptTemplate")
    s.add_argument("--attn-implementation", default=None, help="transformers attn_implementation (e.g. sdpa, eager)")
    s.add_argument("--trust-remote-code", action="store_true", help="run Python shipped in the model folder (audit it first)")
    s.add_argument("--api-key", default=None,
                   help="require 'Authorization: Bearer KEY' on /v1/* and /admin/* (default: $LORAPLANE_SERVE_API_KEY; "
                        "prefer the env var, argv is visible to other local users)")
    s.add_argument("--enable-fault-injection", action="store_true",
                   help="expose POST/GET /admin/faults (also LORAPLANE_SERVE_FAULT_INJECTION=1); off by default")
    s.set_defaults(func=cmd_serve)

    x = sub.add_parser("export", help="merge an adapter into the base weights; optional ONNX export + parity check")
    x.add_argument("--config", help="job JSON (paths.baseModel, paths.adapterDir, paths.outputDir, spec.export.onnx)")
    x.add_argument("--model", help="base model directory (overrides paths.baseModel)")
    x.add_argument("--adapter", help="adapter directory (overrides paths.adapterDir)")
    x.add_argument("--output", help="output directory (overrides paths.outputDir)")
    x.add_argument("--onnx", action="store_true", help="also export ONNX and check parity with onnxruntime")
    x.set_defaults(func=cmd_export)

    m = sub.add_parser("make-tiny-model", help="write a tiny random-init causal LM + char tokenizer")
    m.add_argument("--output", required=True)
    m.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    m.add_argument("--layers", type=int, default=4)
    m.add_argument("--hidden", type=int, default=128)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_make_tiny_model)

    a = sub.add_parser("sync-adapter", help="copy a registered adapter to the serving volume, verified by its digest")
    a.add_argument("--source", required=True, help="adapter directory on the artifacts volume")
    a.add_argument("--dest-root", required=True, help="the adapters volume (vLLM's LoRA resolver directory)")
    a.add_argument("--name", required=True, help="served adapter name; the copy lands in DEST_ROOT/NAME")
    a.add_argument("--sha256", required=True, help="registered digest: sha256 of the adapter's manifest.json")
    a.set_defaults(func=cmd_sync_adapter)

    d = sub.add_parser("make-demo-data", help="write the deterministic demo instruction dataset")
    d.add_argument("--output", required=True)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--train", type=int, default=8000)
    d.add_argument("--validation", type=int, default=50)
    d.add_argument("--test", type=int, default=200)
    d.set_defaults(func=cmd_make_demo_data)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        return E.EXIT_OK
    except E.RuntimeFailure as e:
        code, msg = e.exit_code, str(e)
    except KeyboardInterrupt:
        code, msg = E.EXIT_OTHER, "interrupted"
    except BaseException as e:  # noqa: BLE001 - every failure must map to an exit code
        if isinstance(e, SystemExit):
            raise
        if E.is_oom(e):
            code, msg = E.EXIT_OOM, f"out of memory: {e}".splitlines()[0]
        else:
            traceback.print_exc(file=sys.stderr)
            code, msg = E.EXIT_OTHER, f"{type(e).__name__}: {e}".splitlines()[0]
    sys.stderr.write(f"loraplane-runtime: error: {msg}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
