"""Gradient checkpointing on vs off: peak GPU memory and real tokens/s of the runtime's own training step
(LoRA r=16 on all 7 projections, fp32 adapters on a bf16 base, train.token_loss_sum, AdamW) for Qwen2.5-shaped
models built from a config (random init: no weights can be downloaded), at the runtime's default batch
(training.batchSize 8 x training.maxSeqLength 1024 tokens, every row full, the last 3/4 of each row scored).

It prints one row per (size, checkpointing) and the measured peaks without checkpointing as
train._PEAK_GIB_WITHOUT_CHECKPOINTING holds them: `auto` estimates a job's peak from these points (piecewise linear
in parameters, scaled by tokens per micro-batch) and turns checkpointing on when it exceeds 80 % of the GPU's memory.

  python bench/gc_bench.py                    # 0.5B, 1.5B, 3B on the GPU (about a minute on an H100/H200)
  python bench/gc_bench.py --tiny             # toy sizes on a CPU: tests the script, the numbers mean nothing
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from loraplane_runtime import data as D
from loraplane_runtime.train import enable_gradient_checkpointing, token_loss_sum

COMMON = dict(vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True, rope_theta=1000000.0)
SHAPES = {  # Qwen2.5 0.5B / 1.5B / 3B (their published configs)
    "0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                 intermediate_size=4864, **COMMON),
    "1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                 intermediate_size=8960, **COMMON),
    "3b": dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
               intermediate_size=11008, **COMMON),
    "tiny-a": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=256, max_position_embeddings=2048, tie_word_embeddings=True),
    "tiny-b": dict(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=192, vocab_size=256, max_position_embeddings=2048, tie_word_embeddings=True),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PEAKS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def build(shape: dict, dtype, device):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    with torch.device(device):  # random init straight on the device: seconds, not a CPU init + copy
        base = AutoModelForCausalLM.from_config(Qwen2Config(**shape), dtype=dtype, attn_implementation="sdpa")
    base.config.use_cache = False
    base.train()  # transformers checkpoints only in training mode
    n_params = sum(p.numel() for p in base.parameters())
    model = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                                            target_modules=TARGETS))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return base, model, n_params


def batch(vocab: int, rows: int, width: int, seed: int) -> D.Batch:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (rows, width), generator=g)
    labels = ids.clone()
    labels[:, : width // 4] = D.IGNORE_INDEX  # a prompt quarter, as in instruction data
    mask = torch.ones_like(ids)
    return D.Batch(ids, labels, mask, (mask.cumsum(-1) - 1), rows * width)


def measure(model, vocab: int, a, dtype, device) -> dict:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    tokens, t0 = 0, None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        b = batch(vocab, a.batch_size, a.seq_len, step)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss, n = token_loss_sum(model, b, device)
        (loss / max(1, n)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            tokens += b.real_tokens
    if cuda:
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    del opt
    return {"tokens_per_s": tokens / secs, "seconds": secs,
            "peak_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--sizes", default=None, help="comma-separated, of " + ", ".join(SHAPES))
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--budget-s", type=float, default=240.0, help="skip the remaining sizes past this many seconds")
    ap.add_argument("--json")
    a = ap.parse_args()
    d = dict(sizes="tiny-a,tiny-b", batch_size=2, seq_len=64, steps=2, warmup=1) if a.tiny else \
        dict(sizes="0.5b,1.5b,3b", batch_size=8, seq_len=1024, steps=5, warmup=2)
    for k, v in d.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    peak = next((v for k, v in PEAKS.items() if k in name), None)
    print(f"device: {name}; torch {torch.__version__}; dtype {dtype}; batch {a.batch_size} x {a.seq_len} tokens; "
          f"{a.steps} timed steps after {a.warmup} warmup", flush=True)
    print(f"{'size':6} {'params':>8} {'ckpt':>5} {'tokens/s':>10} {'MFU':>6} {'peak GiB':>9}", flush=True)
    rows, t_start = [], time.monotonic()
    for size in a.sizes.split(","):
        if time.monotonic() - t_start > a.budget_s:
            print(f"{size:6} skipped: past the {a.budget_s:.0f} s budget", flush=True)
            continue
        shape = SHAPES[size]
        base, model, n_params = build(shape, dtype, device)
        for gc in (False, True):
            if gc:
                enable_gradient_checkpointing(base)
            row = {"size": size, "params": n_params, "gradient_checkpointing": gc}
            try:
                row.update(measure(model, shape["vocab_size"], a, dtype, device))
            except torch.OutOfMemoryError:
                row["oom"] = True
            rows.append(row)
            if row.get("oom"):
                print(f"{size:6} {n_params / 1e9:>7.2f}B {'on' if gc else 'off':>5} out of memory", flush=True)
                continue
            mfu = 6 * n_params * row["tokens_per_s"] / (peak * 1e12) if peak else None
            row["mfu"] = mfu
            mfu_s = f"{100 * mfu:.1f}%" if mfu is not None else "n/a"
            mem_s = f"{row['peak_gib']:.2f}" if row["peak_gib"] is not None else "n/a"
            print(f"{size:6} {n_params / 1e9:>7.2f}B {'on' if gc else 'off':>5} {row['tokens_per_s']:>10.0f} "
                  f"{mfu_s:>6} {mem_s:>9}", flush=True)
        del base, model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    peaks = tuple((r["params"], round(r["peak_gib"], 2)) for r in rows if not r["gradient_checkpointing"] and r.get("peak_gib"))
    for size in dict.fromkeys(r["size"] for r in rows):
        off = next((r for r in rows if r["size"] == size and not r["gradient_checkpointing"]), {})
        on = next((r for r in rows if r["size"] == size and r["gradient_checkpointing"]), {})
        if off.get("tokens_per_s") and on.get("tokens_per_s") and off.get("peak_gib") and on.get("peak_gib"):
            print(f"{size}: checkpointing costs {100 * (1 - on['tokens_per_s'] / off['tokens_per_s']):.0f} % of "
                  f"tokens/s and saves {100 * (1 - on['peak_gib'] / off['peak_gib']):.0f} % of peak memory", flush=True)
    print(f"peaks for train._PEAK_GIB_WITHOUT_CHECKPOINTING ({a.batch_size} x {a.seq_len} tokens) = "
          f"{tuple((f'{n / 1e9:.3f}e9', g) for n, g in peaks) if peaks else 'n/a (no GPU memory figures)'}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": name, "batch": [a.batch_size, a.seq_len], "rows": rows,
                       "peaksWithoutCheckpointing": peaks}, f, indent=2)


if __name__ == "__main__":
    main()
