"""A tiny randomly initialised causal LM with a locally built character-level tokenizer.

Nothing can be downloaded here, so tests and the demo build their base model from a
config. The vocabulary covers printable ASCII plus the CJK characters used by the
demo data, so every demo prompt tokenises without <unk>.
"""

from __future__ import annotations

import os
import string

import torch

from .demo_data import CJK_CHARS

SPECIAL = ["<|pad|>", "<|bos|>", "<|eos|>", "<|unk|>", "<|system|>", "<|user|>", "<|assistant|>"]

# Compact template: one special token per role marker keeps sequences short for a char tokenizer.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
    "{% if m['role'] == 'assistant' %}<|eos|>{% else %}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) | set(CJK_CHARS))
    vocab = {tok: i for i, tok in enumerate(SPECIAL)}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    # BPE with no merges == character level; Fuse joins characters back without spaces.
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<|unk|>"))
    tk.decoder = decoders.Fuse()
    tk.add_special_tokens(SPECIAL)
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>",
        unk_token="<|unk|>", additional_special_tokens=SPECIAL[4:], chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
    )


def make_tiny_model(output: str, arch: str = "qwen2", layers: int = 4, hidden: int = 128, heads: int = 4,
                    seed: int = 0, intermediate: int | None = None, max_positions: int = 2048, tokenizer=None) -> dict:
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    tok = tokenizer if tokenizer is not None else build_tokenizer()
    common = dict(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate or hidden * 3,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
        # LoRA leaves embeddings, norms and the tied lm_head frozen. With the usual 0.02 init their
        # logits cannot exceed ~2-3, so loss plateaus near uniform; 1/sqrt(hidden) lets LoRA learn.
        initializer_range=hidden ** -0.5, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    cfg = Qwen2Config(**common) if arch == "qwen2" else LlamaConfig(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    os.makedirs(output, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    tok.save_pretrained(output)
    n = sum(p.numel() for p in model.parameters())
    return {"output": os.path.abspath(output), "arch": arch, "parameters": n, "vocabSize": len(tok)}
