"""The demo must visibly learn (issue 13): the demo recipe (data, model, training) takes exact match on the
held-out deterministic tasks from 0 to a gate pass, and the eval report breaks the metrics down per task.

The CI learning test trains the demo recipe for fewer steps than the demo (so it fits the CI budget) and asserts a
lower bar than the demo's gate; the full-length test (LORAPLANE_DEMO_FULL=1) asserts issue 13's bar, exact match
>= 0.6, and that the pipeline's gate passes the trained adapter. README "Demo" has the measured numbers."""

import json
import os
import time

import pytest

from conftest import run_cli, write_job
from loraplane_runtime import demo_data as DD
from loraplane_runtime import metrics as M
from loraplane_runtime.evaluate import score

# Reduced run for CI (npm test): the demo's schedule (warmup, cosine) compressed to CI_STEPS steps, 100 test rows.
# Measured 2026-11-30 with the shipped recipe (load 10-29 on 2 cores, 773 s of wall time; the training process used
# 90 s of CPU, about what it takes on a quiet core): exact match 0.000 -> 0.460 (zh_digits 0.74, zh_num 0.77,
# zh_greet 0.14, upper 0.00), ROUGE-L 0.008 -> 0.638. The bars sit at about half of that. The full recipe's bar
# (>= 0.6 overall, and the pipeline's gate) is test_full_demo_recipe_meets_the_bar_and_its_gate, run on its own
# (~4.5 min of training on a quiet core).
CI_STEPS = 400
CI_TEST_ROWS = 100
CI_BAR = 0.2  # overall exact match; the untrained model scores 0
CI_TASK_BAR = 0.35  # zh_digits and zh_num, the tasks the demo learns first


def test_eval_report_has_metrics_per_task(work, tiny_model, demo_data):
    out = work / "eval-by-task"
    job = write_job(work / "eval-by-task.json", base=tiny_model, data=demo_data, out=str(out), stage="eval",
                    eval_={"maxNewTokens": 8, "batchSize": 16, "metrics": ["rouge_l", "bleu", "exact_match"]})
    r = run_cli(["evaluate", "--config", job])
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "eval_report.json").read_text())
    rows = [json.loads(line) for line in open(f"{demo_data}/test.jsonl", encoding="utf-8")]
    tasks = sorted({row["task"] for row in rows})
    assert tasks == sorted(DD.DEMO_TASKS) and sorted(report["metricsByTask"]) == tasks
    assert sum(m["numSamples"] for m in report["metricsByTask"].values()) == report["numSamples"] == len(rows)
    assert [s["task"] for s in report["samples"]] == [row["task"] for row in rows]
    # Each task's numbers are the corpus metrics of its own rows, under the corpus-wide (here zh) tokenizer.
    assert report["metricTokenizer"] == "zh"
    for t in tasks:
        mine = [s for s in report["samples"] if s["task"] == t]
        want, _ = score([s["prediction"] for s in mine], [s["reference"] for s in mine],
                        ["rouge_l", "bleu", "exact_match"], M.SafetySuite([], []), "zh")
        assert report["metricsByTask"][t] == pytest.approx({"numSamples": len(mine), **want})


def test_demo_data_is_deterministic_and_bilingual(tmp_path):
    a = DD.make_demo_data(str(tmp_path / "a"), seed=0, train=50, validation=5, test=20)
    b = DD.make_demo_data(str(tmp_path / "b"), seed=0, train=50, validation=5, test=20)
    assert a["sha256"] == b["sha256"]
    rows = [json.loads(line) for line in open(tmp_path / "a" / "train.jsonl", encoding="utf-8")]
    assert {row["task"] for row in rows} == set(DD.DEMO_TASKS)
    # Every task the generator knows (the demo's and the two it no longer ships) writes exact references.
    DD.make_demo_data(str(tmp_path / "every"), seed=0, train=80, validation=5, test=20, tasks=tuple(DD.TEMPLATES))
    rows = [json.loads(line) for line in open(tmp_path / "every" / "train.jsonl", encoding="utf-8")]
    by_task = {row["task"]: row for row in rows}
    assert set(by_task) == set(DD.TEMPLATES)
    assert by_task["reverse"]["output"] == by_task["reverse"]["input"][::-1]
    assert by_task["upper"]["output"] == by_task["upper"]["input"].upper() != by_task["upper"]["input"]
    x, y = map(int, by_task["add"]["input"].split())
    assert by_task["add"]["output"] == str(x + y)
    assert by_task["zh_reverse"]["output"] == by_task["zh_reverse"]["input"][::-1]
    assert by_task["zh_digits"]["output"] == "".join("〇一二三四五六七八九"[int(c)] for c in by_task["zh_digits"]["input"])
    assert by_task["zh_num"]["input"] == "".join("〇一二三四五六七八九"[int(c)] for c in by_task["zh_num"]["output"])
    assert by_task["zh_greet"]["output"] == f"你好，{by_task['zh_greet']['input']}！"
    # Every character of the data is in the tiny model's vocabulary (no <unk>).
    from loraplane_runtime.tiny_model import build_tokenizer

    tok = build_tokenizer()
    text = "".join(row["instruction"] + row["input"] + row["output"] for row in rows)
    assert tok.unk_token_id not in tok(text, add_special_tokens=False)["input_ids"]


def _demo_before_after(tmp_path, steps: int, test_rows: int) -> tuple:
    """The demo recipe (make-tiny-model's defaults, make-demo-data seed 0, DEMO_TRAINING with its warmup and cosine
    schedule compressed to `steps`): eval reports of the untrained model and of the trained adapter."""
    from loraplane_runtime.tiny_model import make_tiny_model

    model = str(tmp_path / "model")
    make_tiny_model(model)
    data = DD.make_demo_data(str(tmp_path / "data"), seed=0, train=8000, validation=8, test=test_rows)["output"]
    training = {**DD.DEMO_TRAINING, "maxSteps": steps, "logEverySteps": 100, "checkpointEverySteps": 10_000}
    ev = {**DD.DEMO_EVAL, "metrics": ["exact_match", "rouge_l", "bleu"]}

    def evaluate(name, adapter=None):
        out = tmp_path / name
        job = write_job(tmp_path / f"{name}.json", base=model, data=data, out=str(out), adapter=adapter, stage="eval",
                        training=training, eval_=ev)
        r = run_cli(["evaluate", "--config", job])
        assert r.returncode == 0, r.stderr
        return json.loads((out / "eval_report.json").read_text())

    base = evaluate("eval-base")
    t0 = time.monotonic()
    r = run_cli(["train", "--config", write_job(tmp_path / "train.json", base=model, data=data,
                                                  out=str(tmp_path / "train"), training=training)], timeout=3600)
    assert r.returncode == 0, r.stderr
    train_s = time.monotonic() - t0
    tuned = evaluate("eval-tuned", str(tmp_path / "train" / "adapter"))
    per_task = {t: (base["metricsByTask"][t]["exact_match"], m["exact_match"]) for t, m in tuned["metricsByTask"].items()}
    print(f"{steps} steps in {train_s:.0f}s; exact match {base['metrics']['exact_match']:.3f} -> "
          f"{tuned['metrics']['exact_match']:.3f}, rouge_l {base['metrics']['rouge_l']:.3f} -> "
          f"{tuned['metrics']['rouge_l']:.3f}; per task {per_task}")
    return base, tuned, per_task


def test_demo_recipe_learns_the_deterministic_tasks(tmp_path):
    base, tuned, per_task = _demo_before_after(tmp_path, CI_STEPS, CI_TEST_ROWS)
    assert base["metrics"]["exact_match"] <= 0.02
    assert tuned["metrics"]["exact_match"] >= CI_BAR, per_task
    for task in ("zh_digits", "zh_num"):
        assert tuned["metricsByTask"][task]["exact_match"] >= CI_TASK_BAR, per_task
    assert tuned["metrics"]["rouge_l"] > base["metrics"]["rouge_l"] + 0.2


@pytest.mark.skipif(not os.environ.get("LORAPLANE_DEMO_FULL"), reason="the full demo recipe (~5 min of training on a "
                    "quiet core): cd gpu-runtime && LORAPLANE_DEMO_FULL=1 bash scripts/test.sh tests/test_demo_learns.py -k full -s")
def test_full_demo_recipe_meets_the_bar_and_its_gate(tmp_path):
    """Issue 13's bar with the shipped recipe and all 200 test rows: exact match from ~0 to >= 0.6, and the demo
    pipeline's exact-match gate blocks the untrained model and passes the trained adapter."""
    base, tuned, per_task = _demo_before_after(tmp_path, DD.DEMO_TRAINING["maxSteps"], 200)
    assert base["metrics"]["exact_match"] <= 0.02 < DD.DEMO_GATE_EXACT_MATCH
    assert tuned["metrics"]["exact_match"] >= 0.6, per_task
    assert tuned["metrics"]["exact_match"] >= DD.DEMO_GATE_EXACT_MATCH, per_task


def test_seeded_demo_pipeline_uses_this_recipe():
    """The control plane seeds the demo pipeline from a TypeScript spec; it must train and evaluate with the recipe
    measured here (README "Demo"), not drift from it."""
    import re

    spec = open(os.path.join(os.path.dirname(__file__), "..", "..", "packages", "services", "src", "seed",
                             "demo-pipeline-spec.ts"), encoding="utf-8").read()

    def num(key, text=spec):
        m = re.search(rf"\b{key}: ([0-9.e_-]+)", text)
        assert m, f"{key} not found in demo-pipeline-spec.ts"
        return float(m.group(1).replace("_", ""))

    t = DD.DEMO_TRAINING
    for key in ("learningRate", "batchSize", "maxSteps", "warmupRatio", "maxSeqLength"):
        assert num(key) == t[key], key
    lora = re.search(r"lora: \{([^}]*)\}", spec).group(1)
    assert (num("r", lora), num("alpha", lora), num("dropout", lora)) == (t["lora"]["r"], t["lora"]["alpha"], t["lora"]["dropout"])
    assert f'scheduler: "{t["scheduler"]}"' in spec
    assert num("maxNewTokens") == DD.DEMO_EVAL["maxNewTokens"]
    # The gate blocks on exact match again.
    gate = re.search(r'\{ metric: "exact_match", comparator: ">=", value: ([0-9.]+)( ?, blocking: false)? \}', spec)
    assert gate and not gate.group(2), "the demo gate must block on exact_match"
    assert float(gate.group(1)) == DD.DEMO_GATE_EXACT_MATCH
