"""Deterministic instruction dataset with exact references (English + Chinese prompts).

Tasks are short so a tiny char-level model can learn them in minutes on a CPU:
string reversal, two-number addition, uppercasing, and JSON <-> key=value conversion.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import string

TEMPLATES = {
    "reverse": ("Reverse the string.", "反转字符串。"),
    "add": ("Add the two numbers.", "计算两个数的和。"),
    "upper": ("Convert to uppercase.", "转换为大写。"),
    "json2kv": ("Convert the JSON to key=value pairs.", "把JSON转换为键值对。"),
    "kv2json": ("Convert the key=value pairs to JSON.", "把键值对转换为JSON。"),
}
CJK_CHARS = "".join(sorted(set("".join(zh for _, zh in TEMPLATES.values()))))

LETTERS = string.ascii_lowercase + string.digits


def _word(rng: random.Random, lo: int, hi: int, alphabet: str = LETTERS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def _pairs(rng: random.Random) -> list:
    keys = rng.sample(string.ascii_lowercase, rng.randint(1, 3))
    return [(k, str(rng.randint(0, 99))) for k in keys]


def make_example(rng: random.Random) -> dict:
    task = rng.choice(sorted(TEMPLATES))
    instruction = TEMPLATES[task][rng.random() < 0.5]
    if task == "reverse":
        s = _word(rng, 3, 8)
        inp, out = s, s[::-1]
    elif task == "add":
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        inp, out = f"{a} {b}", str(a + b)
    elif task == "upper":
        s = _word(rng, 3, 8, string.ascii_lowercase)
        inp, out = s, s.upper()
    else:
        pairs = _pairs(rng)
        js = json.dumps({k: int(v) for k, v in pairs}, separators=(",", ":"))
        kv = ";".join(f"{k}={v}" for k, v in pairs)
        inp, out = (js, kv) if task == "json2kv" else (kv, js)
    return {"instruction": instruction, "input": inp, "output": out, "task": task}


def _sha256_lines(lines: list) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def make_demo_data(output: str, seed: int = 0, train: int = 4000, validation: int = 200, test: int = 200) -> dict:
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
            ex = make_example(rng)
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
