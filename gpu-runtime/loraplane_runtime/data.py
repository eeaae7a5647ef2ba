"""Dataset loading, prompt templates, tokenisation with prompt masking, and batching.

Batches are never padded to max length: each batch is padded only to its own
longest row (dynamic padding), or its examples are packed into rows with
position_ids restarting at 0 per example. Transformers turns restarting
position_ids (with attention_mask=None, no KV cache) into a block-diagonal
causal mask, so packed examples never attend to each other.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from typing import Optional

import torch

from .errors import DataError

IGNORE_INDEX = -100
ADAPTER_META = "loraplane.json"  # written next to adapter_config.json: {"promptTemplate": "chat" | "alpaca"}

ALPACA_PROMPT = (
    "Below is an instruction that describes a task{ctx}. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n{input_block}### Response:\n"
)


def read_jsonl(path: str) -> list:
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: malformed JSON line ({e.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object")
            obj["_line"] = lineno
            rows.append(obj)
    if not rows:
        raise DataError(f"{path}: dataset is empty")
    return rows


def split_path(data_dir: Optional[str], split: str) -> str:
    if not data_dir:
        raise DataError("paths.dataDir is required for this stage")
    return os.path.join(data_dir, f"{split}.jsonl")


def detect_format(row: dict) -> str:
    if "messages" in row:
        return "chat"
    if "instruction" in row and "output" in row:
        return "alpaca"
    return "unknown"


def validate_row(row: dict, fmt: str, path: str) -> None:
    where = f"{path}:{row.get('_line', '?')}"
    if fmt == "alpaca":
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str):
                raise DataError(f"{where}: alpaca row needs a string '{key}'")
        if row.get("input") is not None and not isinstance(row["input"], str):
            raise DataError(f"{where}: alpaca 'input' must be a string")
    elif fmt == "chat":
        msgs = row.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise DataError(f"{where}: chat row needs a non-empty 'messages' list")
        for m in msgs:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise DataError(f"{where}: each message needs string 'role' and 'content'")
        if msgs[-1]["role"] != "assistant":
            raise DataError(f"{where}: the last message must be from the assistant")
    else:
        raise DataError(f"{where}: row is neither alpaca (instruction/output) nor chat (messages)")


def load_split(data_dir: Optional[str], split: str, fmt: str) -> list:
    path = split_path(data_dir, split)
    rows = read_jsonl(path)
    for row in rows:
        validate_row(row, fmt if fmt != "auto" else detect_format(row), path)
    return rows


def to_messages(row: dict) -> list:
    if "messages" in row:
        return row["messages"]
    user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
    return [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]


def reference_of(row: dict) -> str:
    return row["messages"][-1]["content"] if "messages" in row else row["output"]


def alpaca_prompt(instruction: str, inp: str = "") -> str:
    return ALPACA_PROMPT.format(
        ctx=", paired with an input that provides further context" if inp else "",
        instruction=instruction,
        input_block=f"### Input:\n{inp}\n\n" if inp else "",
    )


class PromptFormatter:
    """The one place prompts are built: training (`segments`), evaluation (`prompt`) and serving
    (`prompt_from_messages`) all go through it, so a row gets the same prompt in all three.

    'auto' uses the tokenizer's chat template when it has one, else the Alpaca template. Under the
    Alpaca template a chat row's history (every message before the last assistant turn, system
    included) becomes the instruction, joined by newlines.
    """

    def __init__(self, tokenizer, template: str = "auto"):
        self.tok = tokenizer
        has_chat = bool(getattr(tokenizer, "chat_template", None))
        if template == "chat" and not has_chat:
            from .errors import ConfigError

            raise ConfigError("promptTemplate 'chat' needs a tokenizer with a chat_template")
        self.mode = "chat" if template == "chat" or (template == "auto" and has_chat) else "alpaca"

    def _chat(self, messages: list, gen_prompt: bool) -> str:
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen_prompt)

    def prompt_from_messages(self, history: list) -> str:
        """Generation prompt for a conversation whose next turn is the assistant's (serve's chat endpoint)."""
        if self.mode == "chat":
            return self._chat(history, gen_prompt=True)
        return alpaca_prompt("\n".join(m["content"] for m in history))

    def prompt(self, row: dict) -> str:
        """Prompt for generation: everything up to where the (last) response starts."""
        if "messages" in row:
            return self.prompt_from_messages(row["messages"][:-1])
        if self.mode == "alpaca":
            return alpaca_prompt(row["instruction"], row.get("input") or "")
        return self._chat(to_messages(row)[:-1], gen_prompt=True)

    def segments(self, row: dict) -> list:
        """[(text, trainable)] whose concatenation is the full training text."""
        if self.mode == "alpaca":
            return [(self.prompt(row), False), (reference_of(row) + (self.tok.eos_token or ""), True)]
        msgs = to_messages(row)
        segs, done = [], ""
        for i, m in enumerate(msgs):
            if m["role"] != "assistant":
                continue
            prefix = self._chat(msgs[:i], gen_prompt=True)
            full = self._chat(msgs[: i + 1], gen_prompt=False)
            if not (prefix.startswith(done) and full.startswith(prefix)):
                # Template rewrites history (e.g. strips earlier reasoning): train on the last turn only.
                prefix = self._chat(msgs[:-1], gen_prompt=True)
                full = self._chat(msgs, gen_prompt=False)
                if not full.startswith(prefix):
                    raise DataError("chat template output is not prefix-stable; use promptTemplate 'alpaca'")
                return [(prefix, False), (full[len(prefix):], True)]
            segs += [(prefix[len(done):], False), (full[len(prefix):], True)]
            done = full
        return segs


def eos_token_ids(tok, generation_config=None) -> list:
    """Every id that ends a response: the tokenizer's EOS plus all of generation_config.eos_token_id
    (instruct models often have several, e.g. <|im_end|> and <|endoftext|>)."""
    ids = []
    cfg_eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    for x in [tok.eos_token_id] + (cfg_eos if isinstance(cfg_eos, (list, tuple)) else [cfg_eos]):
        if isinstance(x, int) and x not in ids:
            ids.append(x)
    return ids


def special_prefix(tok) -> list:
    """Ids the tokenizer itself puts before a text with add_special_tokens=True (Llama's BOS; [] for Qwen).

    Read from the tokenizer's own post-processor rather than `add_bos_token`, which transformers 5 no
    longer exposes on fast tokenizers."""
    cached = getattr(tok, "_loraplane_special_prefix", None)
    if cached is not None:
        return cached
    probe = "a"
    with_sp = tok(probe, add_special_tokens=True)["input_ids"]
    plain = tok(probe, add_special_tokens=False)["input_ids"]
    prefix = []
    for i in range(len(with_sp) - len(plain) + 1):
        if with_sp[i:i + len(plain)] == plain:
            prefix = list(with_sp[:i])
            break
    try:
        tok._loraplane_special_prefix = prefix
    except AttributeError:
        pass
    return prefix


def encode_prompt(tok, text: str, raw: bool) -> list:
    """Token ids of a prompt, following the tokenizer's own rules like HF and vLLM do: a raw text prompt
    (Alpaca template, /v1/completions) gets the tokenizer's special prefix (BOS) when it has one; a
    chat-template rendering does not (the template writes BOS itself where the model wants it)."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if raw:
        prefix = special_prefix(tok)
        if prefix and ids[:len(prefix)] != prefix:
            ids = prefix + ids
    return ids


def tokenize_row(tok, formatter: PromptFormatter, row: dict, max_len: int) -> dict:
    ids, labels = [], []
    for text, trainable in formatter.segments(row):
        piece = tok(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trainable else [IGNORE_INDEX] * len(piece)
    prefix = special_prefix(tok) if formatter.mode == "alpaca" else []
    if prefix and ids[:len(prefix)] != prefix:  # same rule as encode_prompt, so train == eval == serve
        ids, labels = prefix + ids, [IGNORE_INDEX] * len(prefix) + labels
    full_len = len(ids)
    ids, labels = ids[:max_len], labels[:max_len]
    # The first token is never predicted (nothing precedes it); masking it keeps a packed
    # row from learning "next example starts with X" across an example boundary.
    labels[0] = IGNORE_INDEX
    return {"input_ids": ids, "labels": labels, "truncated": full_len > max_len}


def tokenize_dataset(tok, formatter, rows: list, max_len: int, path: str, stats: Optional[dict] = None) -> list:
    """Tokenised examples; rows whose prompt leaves no response token within max_len are dropped and
    longer ones truncated, both counted in `stats` ({"examples", "truncated", "dropped"})."""
    out, truncated, dropped = [], 0, 0
    for row in rows:
        ex = tokenize_row(tok, formatter, row, max_len)
        if any(l != IGNORE_INDEX for l in ex["labels"]):
            truncated += ex["truncated"]
            out.append(ex)
        else:
            dropped += 1
    if stats is not None:
        stats.update({"examples": len(out), "truncated": truncated, "dropped": dropped})
    if not out:
        raise DataError(f"{path}: all {len(rows)} examples were dropped: none has a response token within "
                        f"maxSeqLength={max_len} (the prompts alone are that long); raise maxSeqLength or shorten them")
    return out


@dataclass
class Batch:
    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: Optional[torch.Tensor]  # None when packed (mask comes from position_ids)
    position_ids: torch.Tensor
    real_tokens: int  # non-pad tokens, for throughput accounting


def epoch_batches(lengths: list, batch_size: int, seed: int, epoch: int, group_by_length: bool = True) -> list:
    """Deterministic list of batches (lists of example indices) for one epoch.

    Length grouping: shuffle, sort within mega-chunks of 50 batches, shuffle the
    batches. Keeps padding low without making batch order depend on length.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        chunk = batch_size * 50
        order = [i for s in range(0, len(order), chunk)
                 for i in sorted(order[s:s + chunk], key=lambda j: -lengths[j])]
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate_padded(examples: list, pad_id: int, multiple: int = 1) -> Batch:
    """Right-pad to the longest example in this batch only, rounded up to `multiple` (few distinct batch widths:
    on a GPU each new width costs up to ~1.5 s of kernel selection the first time, bench/shape_check.py)."""
    width = -(-max(len(e["input_ids"]) for e in examples) // multiple) * multiple
    n = len(examples)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for r, e in enumerate(examples):
        L = len(e["input_ids"])
        ids[r, :L] = torch.tensor(e["input_ids"])
        labels[r, :L] = torch.tensor(e["labels"])
        mask[r, :L] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return Batch(ids, labels, mask, pos, int(mask.sum()))


def collate_packed(examples: list, pad_id: int, max_len: int) -> Batch:
    """First-fit-decreasing pack of the batch's examples into rows of <= max_len tokens."""
    rows: list = []
    for e in sorted(examples, key=lambda e: -len(e["input_ids"])):
        for row in rows:
            if sum(len(x["input_ids"]) for x in row) + len(e["input_ids"]) <= max_len:
                row.append(e)
                break
        else:
            rows.append([e])
    width = max(sum(len(x["input_ids"]) for x in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    real = 0
    for r, row in enumerate(rows):
        off = 0
        for e in row:
            L = len(e["input_ids"])
            ids[r, off:off + L] = torch.tensor(e["input_ids"])
            labels[r, off:off + L] = torch.tensor(e["labels"])
            pos[r, off:off + L] = torch.arange(L)
            off += L
        real += off
        # Tail padding gets its own restarting positions, so it forms a separate (ignored) block.
        pos[r, off:] = torch.arange(width - off)
    return Batch(ids, labels, None, pos, real)
