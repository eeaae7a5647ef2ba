"""Why dynamic padding lost to pad-512 on the H200 (gpu_check 2026-12-01: 9.1k vs 21.1k real tokens/s).

Hypothesis: each new batch width pays a first-time cost (kernel selection, allocator growth), and with length
grouping every one of the 30 timed steps of gpu_check had a width not seen before, while pad-512 repeats one
shape. Measured here with the same model, data, LoRA and step as gpu_check's `run_ours`: each layout runs the
same 30 batches twice — pass 1 (widths new), pass 2 (widths seen) — timing every step (synchronised), for
pad-512, dynamic padding, and dynamic padding with the width rounded up to a multiple of 8 / 64.

    python3 bench/shape_check.py [--tiny] [--steps 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from gpu_check import QWEN05, TINY, _peft, build_model, pad_to, train_step
from loraplane_runtime import data as D
from loraplane_runtime.demo_data import make_demo_data
from loraplane_runtime.modeling import load_tokenizer


def collate(exs: list, pad_id: int, layout: str) -> D.Batch:
    b = D.collate_padded(exs, pad_id)
    if layout == "pad-512":
        return pad_to(exs, pad_id, 512)
    multiple = {"dynamic": 1, "dynamic /8": 8, "dynamic /64": 64}[layout]
    width = -(-b.input_ids.shape[1] // multiple) * multiple
    return pad_to(exs, pad_id, width) if width != b.input_ids.shape[1] else b


def run(layout: str, model_dir: str, examples: list, batches: list, a, dtype, device) -> dict:
    model = _peft(model_dir, dtype, device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad_id = load_tokenizer(model_dir).pad_token_id
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    warm = [collate([examples[i] for i in b], pad_id, layout) for b in batches[-a.warmup:]]
    timed = [collate([examples[i] for i in b], pad_id, layout) for b in batches[:a.steps]]

    def step(b: D.Batch) -> float:
        sync()
        t0 = time.perf_counter()
        train_step(model, opt, b, device, dtype)
        sync()
        return time.perf_counter() - t0

    for b in warm:
        step(b)
    passes = []
    for _ in range(2):
        times = [step(b) for b in timed]
        real = sum(b.real_tokens for b in timed)
        passes.append({"tokens_per_s": real / sum(times), "median_step_ms": 1000 * statistics.median(times),
                       "max_step_ms": 1000 * max(times)})
    widths = sorted({b.input_ids.shape[1] for b in timed})
    if a.profile:  # where a step's time goes, for 3 already-seen batches
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            for b in timed[:3]:
                step(b)
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(f"== profile {layout} (3 steps)")
        print(prof.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=60))
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"layout": layout, "distinct_widths": len(widths), "mean_width": statistics.mean(b.input_ids.shape[1] for b in timed),
            "pass1": passes[0], "pass2": passes[1]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--profile", action="store_true", help="also print a torch.profiler table per layout")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.steps = a.steps or (3 if a.tiny else 30)
    a.batch_size = a.batch_size or (4 if a.tiny else 16)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tmp = tempfile.mkdtemp(prefix="lp-shapecheck-")
    model_dir = build_model(os.path.join(tmp, "model"), TINY if a.tiny else QWEN05)
    data_dir = make_demo_data(os.path.join(tmp, "data"), train=max(64, a.batch_size * (a.steps + a.warmup)),
                              validation=1, test=1)["output"]
    tok = load_tokenizer(model_dir)
    examples = D.tokenize_dataset(tok, D.PromptFormatter(tok, "alpaca"), D.load_split(data_dir, "train", "alpaca"), 512, "train")
    batches = D.epoch_batches([len(e["input_ids"]) for e in examples], a.batch_size, seed=0, epoch=0)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    results = [run(layout, model_dir, examples, batches, a, dtype, device)
               for layout in ("pad-512", "dynamic", "dynamic /8", "dynamic /64")]
    print(f"device: {name}; torch {torch.__version__}; batch {a.batch_size}; {a.steps} steps per pass after {a.warmup} warmup")
    print(f"{'layout':12} {'widths':>6} {'mean w':>7} {'pass1 tok/s':>12} {'median ms':>10} {'max ms':>8} {'pass2 tok/s':>12} {'median ms':>10} {'max ms':>8}")
    for r in results:
        p1, p2 = r["pass1"], r["pass2"]
        print(f"{r['layout']:12} {r['distinct_widths']:>6} {r['mean_width']:>7.0f} {p1['tokens_per_s']:>12.0f} {p1['median_step_ms']:>10.1f} "
              f"{p1['max_step_ms']:>8.1f} {p2['tokens_per_s']:>12.0f} {p2['median_step_ms']:>10.1f} {p2['max_step_ms']:>8.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": name, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
