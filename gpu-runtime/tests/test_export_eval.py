import json

import pytest
import torch

from conftest import events, run_cli, write_job
from test_serve import _random_adapter


def test_export_merge_and_onnx_parity(work, tiny_model):
    from peft import PeftModel

    from loraplane_runtime.modeling import load_base_model

    adapter = _random_adapter(tiny_model, work / "exp-adapter", 3)
    out = work / "export"
    r = run_cli(["export", "--model", tiny_model, "--adapter", adapter, "--output", str(out), "--onnx"])
    assert r.returncode == 0, r.stderr
    res = events(r.stdout)[-1]
    assert res["onnx"]["parityMaxAbsDiff"] < 1e-3
    ids = torch.tensor([[5, 40, 41, 42, 6]])
    with torch.no_grad():
        merged = load_base_model(str(out / "merged"))(input_ids=ids).logits
        peft = PeftModel.from_pretrained(load_base_model(tiny_model), adapter)(input_ids=ids).logits
        base = load_base_model(tiny_model)(input_ids=ids).logits
    torch.testing.assert_close(merged, peft, atol=1e-4, rtol=1e-4)
    assert (merged - base).abs().max() > 1e-2  # the merge really changed the weights
    assert (out / "onnx" / "model.onnx").is_file() and (out / "merged" / "manifest.json").is_file()


def test_evaluate_writes_report_and_samples(work, tiny_model, demo_data):
    out = work / "eval"
    job = write_job(work / "eval.json", base=tiny_model, data=demo_data, out=str(out), stage="eval",
                    eval_={"maxSamples": 10, "maxNewTokens": 8, "batchSize": 4,
                           "metrics": ["rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety"],
                           "safety": {"blocklist": ["zzz"]}})
    r = run_cli(["evaluate", "--config", job])
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    result = evs[-1]
    assert result["event"] == "result" and result["stage"] == "eval"
    report = json.loads((out / "eval_report.json").read_text())
    assert report["numSamples"] == 10 and report["adapter"] is None
    assert set(report["metrics"]) == {"rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety_pass_rate", "refusal_rate"}
    assert all(0.0 <= v <= 1.0 for v in report["metrics"].values())
    assert result["metrics"] == report["metrics"]
    s = report["samples"][0]
    assert {"id", "prompt", "reference", "prediction", "scores"} <= set(s)
    assert s["prompt"].endswith("<|assistant|>")
    # per-sample scores are consistent with the aggregate
    em = sum(x["scores"]["exact_match"] for x in report["samples"]) / 10
    assert report["metrics"]["exact_match"] == pytest.approx(em)
    pts = {p["key"]: p for e in evs if e["event"] == "metrics" for p in e["points"]}
    assert pts["eval/rouge_l"]["step"] == 0
    assert len((out / "samples.jsonl").read_text().splitlines()) == 10
