"""Training throughput in real (non-pad) tokens/s: our batching vs. padding every sample to 512.

Same tiny model, data, LoRA config, batch size and optimizer for every mode; only the
batch layout differs:
  padded-512  the seed article's approach: every sample padded to max_length=512
  dynamic     ours: length-grouped batches, padded to the longest sample in the batch
  packed      ours with packing: samples concatenated, position_ids restart per sample

Usage: .venv/bin/python bench/throughput.py [--steps 30] [--batch-size 32] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import torch

from loraplane_runtime import data as D
from loraplane_runtime.demo_data import make_demo_data
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.tiny_model import make_tiny_model
from loraplane_runtime.train import token_loss_sum


def pad_to(examples: list, pad_id: int, width: int) -> D.Batch:
    b = D.collate_padded(examples, pad_id)
    extra = width - b.input_ids.shape[1]
    pad = lambda t, v: torch.nn.functional.pad(t, (0, extra), value=v)  # noqa: E731
    return D.Batch(pad(b.input_ids, pad_id), pad(b.labels, D.IGNORE_INDEX), pad(b.attention_mask, 0),
                   pad(b.position_ids, 0), b.real_tokens)


def run_mode(mode: str, model_dir: str, examples: list, lengths: list, args) -> dict:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = get_peft_model(load_base_model(model_dir), LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])).to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    tok_pad = load_tokenizer(model_dir).pad_token_id
    batches = D.epoch_batches(lengths, args.batch_size, seed=0, epoch=0, group_by_length=mode != "padded-512")
    real = slots = 0
    t0 = None
    for step in range(args.steps + args.warmup):
        exs = [examples[i] for i in batches[step % len(batches)]]
        if mode == "padded-512":
            b = pad_to(exs, tok_pad, 512)
        elif mode == "dynamic":
            b = D.collate_padded(exs, tok_pad)
        else:
            b = D.collate_packed(exs, tok_pad, 512)
        if step == args.warmup:
            t0 = time.perf_counter()
        loss, n = token_loss_sum(model, b, device)
        (loss / n).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= args.warmup:
            real += b.real_tokens
            slots += b.input_ids.numel()
    if device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    return {"mode": mode, "steps": args.steps, "seconds": round(secs, 2), "real_tokens": real,
            "padded_token_slots": slots, "pad_fraction": round(1 - real / slots, 3),
            "real_tokens_per_second": round(real / secs, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", help="model dir (default: a fresh tiny qwen2, 4 layers, hidden 128)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lp-bench-")
    model_dir = args.model or make_tiny_model(os.path.join(tmp, "model"))["output"]
    data_dir = make_demo_data(os.path.join(tmp, "data"), train=2000, validation=1, test=1)["output"]
    tok = load_tokenizer(model_dir)
    fmt = D.PromptFormatter(tok, "auto")
    rows = D.load_split(data_dir, "train", "alpaca")
    examples = D.tokenize_dataset(tok, fmt, rows, 512, "train")
    lengths = [len(e["input_ids"]) for e in examples]
    results = [run_mode(m, model_dir, examples, lengths, args) for m in ("padded-512", "dynamic", "packed")]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    base = results[0]["real_tokens_per_second"]
    for r in results:
        r["speedup_vs_padded_512"] = round(r["real_tokens_per_second"] / base, 2)
    print(json.dumps({"device": device, "torch": torch.__version__, "batch_size": args.batch_size,
                      "mean_sample_tokens": round(sum(lengths) / len(lengths), 1), "results": results}, indent=2))


if __name__ == "__main__":
    main()
