"""Merge a LoRA adapter into its base weights; optional ONNX export with an onnxruntime parity check.

Quantisation is not done here (see README).
"""

from __future__ import annotations

import os
import shutil

import torch

from .config import load_job
from .errors import ConfigError
from .modeling import load_base_model, load_tokenizer, write_manifest

PARITY_ATOL = 1e-3


class _LogitsOnly(torch.nn.Module):
    """ONNX graph input/output: input_ids + attention_mask -> logits, no KV cache."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits


def merge(base: str, adapter: str | None, out: str) -> str:
    from peft import PeftModel

    # eager attention: the same module graph exports cleanly to ONNX afterwards
    model = load_base_model(base, torch.float32, attn="eager")
    if adapter:
        if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
            raise ConfigError(f"adapter not found: {adapter}")
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    # train saves the tokenizer next to the adapter (it may add tokens); otherwise use the base's
    has_tok = adapter and os.path.isfile(os.path.join(adapter, "tokenizer_config.json"))
    load_tokenizer(adapter if has_tok else base).save_pretrained(out)
    write_manifest(out, {"baseModel": base, "adapter": adapter})
    return out


def export_onnx(merged: str, out: str, seq_len: int = 16) -> dict:
    import numpy as np
    import onnxruntime as ort

    model = load_base_model(merged, torch.float32, attn="eager").eval()
    model.config.use_cache = False
    wrapper = _LogitsOnly(model).eval()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.onnx")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (2, seq_len), generator=g)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(wrapper, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})
    load_tokenizer(merged).save_pretrained(out)
    # Parity on a different shape than the trace, to prove the dynamic axes work.
    ids2 = torch.randint(0, model.config.vocab_size, (3, seq_len + 5), generator=g)
    mask2 = torch.ones_like(ids2)
    with torch.no_grad():
        ref = wrapper(ids2, mask2).numpy()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input_ids": ids2.numpy(), "attention_mask": mask2.numpy()})[0]
    diff = float(np.max(np.abs(ref - got)))
    if diff > PARITY_ATOL:
        raise RuntimeError(f"ONNX parity check failed: max |torch - onnxruntime| = {diff:.2e} > {PARITY_ATOL}")
    write_manifest(out, {"baseModel": merged, "parityMaxAbsDiff": diff})
    return {"path": path, "parityMaxAbsDiff": diff}


def run_export(args) -> dict:
    base, adapter, out, onnx = None, None, None, bool(args.onnx)
    if args.config:
        job = load_job(args.config)
        base, adapter, out = job.paths.base_model, job.paths.adapter_dir, job.paths.output_dir
        onnx = onnx or bool(job.export.get("onnx"))
    base, adapter, out = args.model or base, args.adapter or adapter, args.output or out
    if not base or not out:
        raise ConfigError("export needs a base model and an output directory (--config or --model/--output)")
    merged = merge(os.path.abspath(base), adapter and os.path.abspath(adapter), os.path.join(os.path.abspath(out), "merged"))
    result = {"stage": "export", "mergedModel": merged}
    if onnx:
        result["onnx"] = export_onnx(merged, os.path.join(os.path.abspath(out), "onnx"))
    return result
