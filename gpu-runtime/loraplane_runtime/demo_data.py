"""Deterministic instruction dataset with exact references, in English and Chinese.

The demo's four short tasks (DEMO_TASKS), which a tiny character-level model learns in minutes on a CPU
(measured in README "Demo"): digits to Chinese numerals and back, a fixed Chinese greeting template around a
name, and uppercasing. Chinese references make evaluation pick the `zh` metric tokenizer, so BLEU and ROUGE-L
in the demo's report are the language-aware ones. Every row names its `task`, which evaluation uses for a
per-task breakdown. String reversal, two-number addition and Chinese string reversal are generated on request
(`tasks=`) but left out of the demo: with LoRA on the random-init tiny model they stayed far below the demo's
bar within its budget (README "Demo").
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import string

# Short instructions: with a character-level tokenizer every character is a token, so a long instruction
# would make most of each training step the (unlearned) prompt.
TEMPLATES = {
    "reverse": "Reverse:",
    "add": "Add:",
    "upper": "Upper:",
    "zh_reverse": "倒序：",
    "zh_digits": "写成汉字：",
    "zh_num": "写成数字：",
    "zh_greet": "问候：",
}
DEMO_TASKS = ("zh_digits", "zh_greet", "upper", "zh_num")
ZH_POOL = "春夏秋冬山水火木金土日月天地人大小上下中左右东西南北"
ZH_DIGITS = "〇一二三四五六七八九"
GREETING = "你好，{}！"
CJK_CHARS = "".join(sorted(set("".join(TEMPLATES.values()) + ZH_POOL + ZH_DIGITS + GREETING.format(""))))

# The demo's recipe (scripts/demo.sh, the seeded demo pipeline in packages/services/src/seed/demo-pipeline-spec.ts,
# tests/test_demo_learns.py). The base model is `make-tiny-model`'s default: Qwen2, 4 layers, hidden 128, 4 heads.
DEMO_TRAINING = {
    "learningRate": 1e-3, "batchSize": 32, "maxSteps": 1200, "warmupRatio": 0.05, "scheduler": "cosine",
    "maxSeqLength": 64, "lora": {"r": 64, "alpha": 128, "dropout": 0.0},
}
DEMO_EVAL = {"split": "test", "maxNewTokens": 16, "batchSize": 50}
# The demo pipeline's blocking gate on exact match (demo-pipeline-spec.ts): the untrained model scores 0.000, the
# trained adapter of this recipe well above it (README "Demo").
DEMO_GATE_EXACT_MATCH = 0.5


def _letters(rng: random.Random, lo: int, hi: int, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def make_example(rng: random.Random, tasks=DEMO_TASKS) -> dict:
    task = rng.choice(list(tasks))
    if task == "reverse":
        inp = _letters(rng, 3, 7)
        out = inp[::-1]
    elif task == "add":
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        inp, out = f"{a} {b}", str(a + b)
    elif task == "upper":
        inp = _letters(rng, 3, 7)
        out = inp.upper()
    elif task == "zh_num":
        inp = _letters(rng, 3, 5, ZH_DIGITS)
        out = "".join(str(ZH_DIGITS.index(c)) for c in inp)
    elif task == "zh_reverse":
        inp = _letters(rng, 3, 6, ZH_POOL)
        out = inp[::-1]
    elif task == "zh_digits":
        inp = _letters(rng, 3, 5, string.digits)
        out = "".join(ZH_DIGITS[int(c)] for c in inp)
    else:
        inp = _letters(rng, 3, 6).capitalize()
        out = GREETING.format(inp)
    return {"instruction": TEMPLATES[task], "input": inp, "output": out, "task": task}


def _sha256_lines(lines: list) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def make_demo_data(output: str, seed: int = 0, train: int = 8000, validation: int = 50, test: int = 200,
                   tasks=DEMO_TASKS) -> dict:
    """Splits are disjoint on (instruction, input), so eval measures held-out examples."""
    rng = random.Random(seed)
    seen: set = set()
    splits = {}
    for name, n in (("test", test), ("validation", validation), ("train", train)):
        rows, attempts = [], 0
        while len(rows) < n:
            attempts += 1
            if attempts > n * 50:
                raise RuntimeError(f"could not generate {n} unique rows for {name}")
            ex = make_example(rng, tasks)
            key = (ex["instruction"], ex["input"])
            if key in seen:
                continue
            seen.add(key)
            ex["id"] = f"{name}-{len(rows):05d}"
            rows.append(ex)
        splits[name] = rows
    os.makedirs(output, exist_ok=True)
    meta = {"format": "alpaca", "splits": {}}
    for name in ("train", "validation", "test"):
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in splits[name]]
        with open(os.path.join(output, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(lines)
        meta["splits"][name] = {"rows": len(lines), "sha256": _sha256_lines(lines)}
    meta["sha256"] = hashlib.sha256("".join(meta["splits"][s]["sha256"] for s in ("train", "validation", "test")).encode()).hexdigest()
    with open(os.path.join(output, "dataset.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return {"output": os.path.abspath(output), **meta}
