"""Loading base models, tokenizers and adapters; LoRA target validation; file digests."""

from __future__ import annotations

import json
import os
from typing import Optional

import torch

from .digests import sha256_file  # noqa: F401 - re-exported: train, evaluate and export import it from here
from .errors import ConfigError


def load_tokenizer(path: str, padding_side: str = "right", trust_remote_code: bool = False):
    """AutoTokenizer, except for plain `tokenizers` files (our tiny model).

    Transformers 5 maps a Qwen2/Llama config to its own tokenizer class, which
    rebuilds a byte-level pre-tokenizer and would mangle a char-level vocabulary.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    cls = None
    cfg_path = os.path.join(path, "tokenizer_config.json")
    if os.path.isfile(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            cls = json.load(f).get("tokenizer_class")
    if cls in ("TokenizersBackend", "PreTrainedTokenizerFast"):
        tok = PreTrainedTokenizerFast.from_pretrained(path)
    else:
        try:
            tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        except ValueError as e:
            _remote_code_error(path, e)
            raise
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return torch.float32
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def load_base_model(path: str, dtype: torch.dtype = torch.float32, attn: Optional[str] = None,
                    trust_remote_code: bool = False):
    """`trust_remote_code` runs Python shipped inside the model folder: off unless the spec turns it on."""
    from transformers import AutoModelForCausalLM

    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(f"base model not found: {path} (expected a directory with config.json)")
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if attn:
        kwargs["attn_implementation"] = attn
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (ValueError, ImportError) as e:
        _remote_code_error(path, e)
        if attn and (isinstance(e, ImportError) or "attn" in str(e).lower() or "attention" in str(e).lower()):
            raise ConfigError(f"attnImplementation {attn!r} is not available for this model/torch: "
                              f"{str(e).splitlines()[0]}") from None
        raise


def _remote_code_error(path: str, e: Exception) -> None:
    if "trust_remote_code" in str(e):
        raise ConfigError(f"{path} needs custom Python code from its folder; set training.trustRemoteCode: true "
                          f"only for a model folder you have audited ({str(e).splitlines()[0]})") from None


def model_context_length(config) -> Optional[int]:
    """The number of positions the model was built for (None when the config does not say)."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def load_model_config(path: str, trust_remote_code: bool = False):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except ValueError as e:
        _remote_code_error(path, e)
        raise


def linear_module_names(model) -> list:
    """Short names of the Linear layers LoRA can target (lm_head excluded: it is usually tied)."""
    names = set()
    for full, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and not full.endswith("lm_head"):
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def validate_target_modules(model, targets: list) -> None:
    valid = linear_module_names(model)
    unknown = [t for t in targets if t not in valid]
    if unknown:
        raise ConfigError(f"unknown LoRA target module(s) {unknown}; valid modules for this model: {valid}")



def write_manifest(directory: str, extra: dict) -> str:
    """manifest.json listing every file in `directory` with sha256 and size."""
    files = []
    for root, _, names in os.walk(directory):
        for n in sorted(names):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, directory)
            if rel == "manifest.json":
                continue
            files.append({"path": rel, "sha256": sha256_file(p), "size": os.path.getsize(p)})
    path = os.path.join(directory, "manifest.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"files": sorted(files, key=lambda x: x["path"]), **extra}, f, indent=2)
    return path


def dir_digest(directory: str) -> tuple:
    """(sha256 over the manifest, total bytes): a single digest for a directory artifact."""
    manifest = os.path.join(directory, "manifest.json")
    with open(manifest, encoding="utf-8") as f:
        size = sum(x["size"] for x in json.load(f)["files"])
    return sha256_file(manifest), size
