"""GPU readiness check: one table of training throughput, MFU and peak memory for the same model, data and
steps under (a) the seed article's layout (HF + PEFT, every sample padded to 512), (b) our runtime with dynamic
padding, (c) our runtime with packing, (d) TRL's SFTTrainer with padding-free packing when `trl` is installed;
plus eval generation throughput (eval's batched greedy decoding: left padding, KV cache, a fixed number of
new tokens per prompt).

The model is built from a config (no weights can be downloaded; random init is fine for throughput):
Qwen2.5-0.5B's shape (24 layers, hidden 896, 14 heads / 2 KV heads, MLP 4864, vocab 151 936, ~0.49B params).
`--tiny` swaps in a 2-layer toy so the script itself is tested on a CPU.

MFU = 6 x parameters x real tokens/s / peak bf16 dense FLOP/s (the usual convention; LoRA skips most weight
gradients, so the work actually done is nearer 4N per token). Peak: H100/H200 989 TFLOP/s, A100 312; override
with --peak-tflops.
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
from loraplane_runtime.evaluate import greedy_config
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.tiny_model import build_tokenizer
from loraplane_runtime.train import token_loss_sum

QWEN05 = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
              intermediate_size=4864, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
              rope_theta=1000000.0)
TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=128, vocab_size=256, max_position_embeddings=2048, tie_word_embeddings=True)
PEAKS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_model(out: str, shape: dict) -> str:
    from transformers import AutoModelForCausalLM, Qwen2Config

    tok = build_tokenizer()
    cfg = Qwen2Config(**shape, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def pad_to(examples: list, pad_id: int, width: int) -> D.Batch:
    b = D.collate_padded(examples, pad_id)
    extra = width - b.input_ids.shape[1]
    pad = lambda t, v: torch.nn.functional.pad(t, (0, extra), value=v)  # noqa: E731
    return D.Batch(pad(b.input_ids, pad_id), pad(b.labels, D.IGNORE_INDEX), pad(b.attention_mask, 0),
                   pad(b.position_ids, 0), b.real_tokens)


def _peft(model_dir, dtype, device):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(load_base_model(model_dir, dtype), LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM", target_modules=TARGETS)).to(device)
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model


def train_step(model, opt, b: D.Batch, device, dtype) -> None:
    """The runtime's training step on one batch: token-mean loss over response tokens, backward, AdamW."""
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        loss, n = token_loss_sum(model, b, device)
    (loss / max(1, n)).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def run_ours(mode: str, model_dir: str, examples: list, lengths: list, a, dtype, device) -> dict:
    model = _peft(model_dir, dtype, device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad_id = load_tokenizer(model_dir).pad_token_id
    batches = D.epoch_batches(lengths, a.batch_size, seed=0, epoch=0, group_by_length=mode != "a) HF+PEFT pad-512")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    real = 0
    t0 = None
    for step in range(a.steps + a.warmup):
        exs = [examples[i] for i in batches[step % len(batches)]]
        if mode.startswith("a)"):
            b = pad_to(exs, pad_id, 512)
        elif mode.startswith("b)"):
            b = D.collate_padded(exs, pad_id)
        else:
            b = D.collate_packed(exs, pad_id, 512)
        if step == a.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        train_step(model, opt, b, device, dtype)
        if step >= a.warmup:
            real += b.real_tokens
    if device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"mode": mode, "tokens_per_s": real / secs, "peak_gib": peak, "seconds": secs}


def run_trl(model_dir: str, rows: list, a, dtype, device) -> dict:
    mode = "d) TRL SFTTrainer padding-free"
    try:
        import trl  # noqa: F401
        from datasets import Dataset
        from peft import LoraConfig
        from trl import SFTConfig, SFTTrainer
    except ImportError as e:
        return {"mode": mode, "skipped": f"not installed ({e.name})"}
    tok = load_tokenizer(model_dir)
    texts = [{"prompt": D.alpaca_prompt(r["instruction"], r.get("input") or ""), "completion": r["output"] + tok.eos_token}
             for r in rows]
    cfg = SFTConfig(output_dir=tempfile.mkdtemp(prefix="lp-trl-"), per_device_train_batch_size=a.batch_size,
                    max_steps=a.steps + a.warmup, learning_rate=1e-4, logging_steps=10 ** 6, save_strategy="no",
                    report_to=[], packing=True, padding_free=True, max_length=512, bf16=dtype == torch.bfloat16,
                    use_cpu=device.type != "cuda")
    model = load_base_model(model_dir, dtype)
    from datasets.table import InMemoryTable

    # An explicit fingerprint: datasets 5.0 hashes a new table with dill, which fails on pyarrow 25's MonthDayNano type.
    dataset = Dataset(InMemoryTable.from_pylist(texts), fingerprint="loraplane-gpu-check")
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=dataset, processing_class=tok,
                         peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=TARGETS,
                                                task_type="CAUSAL_LM"))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = trainer.train()
    secs = time.perf_counter() - t0
    n_tokens = out.metrics.get("train_num_input_tokens_seen") or trainer.state.num_input_tokens_seen
    if not n_tokens:  # TRL's own count of the (unpadded) tokens it trained on, logged at the end of training
        n_tokens = next((h["num_tokens"] for h in reversed(trainer.state.log_history) if h.get("num_tokens")), None)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None
    return {"mode": mode, "tokens_per_s": (n_tokens / secs) if n_tokens else None, "peak_gib": peak, "seconds": secs,
            "note": "includes warmup steps and TRL's own tokenisation"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="2-layer toy model (tests the script on a CPU)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--eval-prompts", type=int, default=None)
    ap.add_argument("--eval-new-tokens", type=int, default=None)
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    d = dict(steps=2, warmup=1, batch_size=4, eval_prompts=4, eval_new_tokens=8) if a.tiny else \
        dict(steps=30, warmup=3, batch_size=16, eval_prompts=128, eval_new_tokens=64)
    for k, v in d.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tmp = tempfile.mkdtemp(prefix="lp-gpucheck-")
    model_dir = build_model(os.path.join(tmp, "model"), TINY if a.tiny else QWEN05)
    data_dir = make_demo_data(os.path.join(tmp, "data"), train=max(64, a.batch_size * (a.steps + a.warmup)),
                              validation=1, test=max(1, a.eval_prompts))["output"]
    tok = load_tokenizer(model_dir)
    fmt = D.PromptFormatter(tok, "alpaca")
    rows = D.load_split(data_dir, "train", "alpaca")
    examples = D.tokenize_dataset(tok, fmt, rows, 512, "train")
    lengths = [len(e["input_ids"]) for e in examples]
    n_params = sum(p.numel() for p in load_base_model(model_dir).parameters())
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({platform.machine()})"
    peak = a.peak_tflops or next((v for k, v in PEAKS.items() if k in name), None)

    results = [run_ours(m, model_dir, examples, lengths, a, dtype, device)
               for m in ("a) HF+PEFT pad-512", "b) ours dynamic padding", "c) ours packing")]
    try:  # TRL's API moves between versions; its failure must not cost the rest of the table
        results.append(run_trl(model_dir, rows, a, dtype, device))
    except Exception as e:  # noqa: BLE001
        results.append({"mode": "d) TRL SFTTrainer padding-free", "skipped": f"failed: {type(e).__name__}: {e}"[:200]})
    for r in results:
        tps = r.get("tokens_per_s")
        r["mfu"] = (6 * n_params * tps / (peak * 1e12)) if (tps and peak) else None

    model = load_base_model(model_dir, dtype).to(device).eval()
    test = D.load_split(data_dir, "test", "alpaca")[:a.eval_prompts]
    prompts = [fmt.prompt(r) for r in test]
    cfg = greedy_config(model, tok, a.eval_new_tokens)
    cfg.min_new_tokens = a.eval_new_tokens  # a random model may emit EOS at once: time a fixed amount of decoding
    bs = min(64, len(prompts))
    gen_tokens = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(prompts), bs):  # eval's batched greedy decode: left padding, KV cache
            enc = [D.encode_prompt(tok, p, True) for p in prompts[s:s + bs]]
            w = max(len(e) for e in enc)
            ids = torch.tensor([[tok.pad_token_id] * (w - len(e)) + e for e in enc], device=device)
            mask = torch.tensor([[0] * (w - len(e)) + [1] * len(e) for e in enc], device=device)
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=cfg)
            gen_tokens += (out.shape[1] - w) * len(enc)
    if device.type == "cuda":
        torch.cuda.synchronize()
    gen_secs = time.perf_counter() - t0

    print(f"device: {name}; torch {torch.__version__}; model {n_params / 1e6:.1f}M params "
          f"({'tiny' if a.tiny else 'Qwen2.5-0.5B shape'}, random init); dtype {dtype}; batch {a.batch_size}; "
          f"{a.steps} timed steps after {a.warmup} warmup; mean {sum(lengths) / len(lengths):.1f} tokens/example")
    print(f"{'mode':34} {'real tokens/s':>14} {'MFU':>7} {'peak GiB':>9}")
    for r in results:
        if "skipped" in r:
            print(f"{r['mode']:34} skipped: {r['skipped']}")
            continue
        if not r.get("tokens_per_s"):
            print(f"{r['mode']:34} ran, but reported no token count")
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        mem = f"{r['peak_gib']:.2f}" if r["peak_gib"] is not None else "n/a"
        print(f"{r['mode']:34} {r['tokens_per_s']:>14.1f} {mfu:>7} {mem:>9}")
    print(f"eval generation: {len(prompts)} prompts x <= {a.eval_new_tokens} new tokens, "
          f"{gen_tokens / gen_secs:.1f} generated tokens/s ({gen_secs:.2f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": name, "params": n_params, "results": results,
                       "eval": {"prompts": len(prompts), "tokens_per_s": gen_tokens / gen_secs}}, f, indent=2)


if __name__ == "__main__":
    main()
