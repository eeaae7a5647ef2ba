"""Defect 3: eval decoding is explicit greedy (nothing inherited from generation_config but the EOS ids),
stops at every EOS id and at stop strings, optionally strips <think> reasoning, and is recorded in the report."""
import json
import shutil

import pytest
import torch

from conftest import write_job
from loraplane_runtime import data as D
from loraplane_runtime.config import load_job
from loraplane_runtime.evaluate import postprocess, run_evaluate
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.reporting import StdoutReporter

ROWS = [{"instruction": "Reverse the string.", "input": "hello", "output": "olleh"},
        {"instruction": "Add the numbers.", "input": "12 30", "output": "42"},
        {"instruction": "Uppercase.", "input": "abc", "output": "ABC"}]


def _manual_greedy(model, tok, prompt_ids, eos_ids, n):
    ids = list(prompt_ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if nxt in eos_ids:
                break
            out.append(nxt)
            ids.append(nxt)
    return tok.decode(out, skip_special_tokens=True).strip()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaldata")
    (d / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(d)


def test_eval_ignores_inherited_penalties_and_stops_at_every_eos(tiny_model, data_dir, tmp_path):
    tok = load_tokenizer(tiny_model)
    model = load_base_model(tiny_model).eval()
    fmt = D.PromptFormatter(tok, "auto")
    prompts = [D.encode_prompt(tok, fmt.prompt(r), fmt.mode == "alpaca") for r in ROWS]
    # A second EOS id: a token plain greedy emits for some prompt, first at a position > 0
    plains = [_manual_greedy(model, tok, p, {tok.eos_token_id}, 12) for p in prompts]
    k, pos = next((k, i) for k, pl in enumerate(plains) for i in range(1, len(pl)) if pl[i] not in pl[:i])
    second_eos = tok.convert_tokens_to_ids(plains[k][pos])
    eos = {tok.eos_token_id, second_eos}
    expected = [_manual_greedy(model, tok, p, eos, 12) for p in prompts]
    assert expected[k] == plains[k][:pos] != plains[k]

    shadow = tmp_path / "model"
    shutil.copytree(tiny_model, shadow)
    gc = json.loads((shadow / "generation_config.json").read_text())
    gc.update({"repetition_penalty": 50.0, "no_repeat_ngram_size": 1, "do_sample": True, "temperature": 0.7,
               "eos_token_id": [tok.eos_token_id, second_eos]})
    (shadow / "generation_config.json").write_text(json.dumps(gc))
    job = load_job(write_job(tmp_path / "job.json", base=str(shadow), data=data_dir, out=str(tmp_path / "out"),
                             stage="eval", eval_={"maxNewTokens": 12, "batchSize": 2}))
    rep = StdoutReporter(job.run_id)
    res = run_evaluate(job, rep)
    rep.close()
    report = json.loads(open(res["report"]).read())
    assert [s["prediction"] for s in report["samples"]] == expected
    d = report["decoding"]
    assert d["strategy"] == "greedy" and d["repetitionPenalty"] == 1.0 and d["maxNewTokens"] == 12
    assert set(d["eosTokenIds"]) == eos
    assert report["metricTokenizer"] == "13a"


def test_stop_strings_and_reasoning_stripping(tiny_model, data_dir, tmp_path):
    tok = load_tokenizer(tiny_model)
    model = load_base_model(tiny_model).eval()
    fmt = D.PromptFormatter(tok, "auto")
    full = _manual_greedy(model, tok, D.encode_prompt(tok, fmt.prompt(ROWS[0]), True), {tok.eos_token_id}, 12)
    stop = full[4:6]
    job = load_job(write_job(tmp_path / "job.json", base=tiny_model, data=data_dir, out=str(tmp_path / "out"),
                             stage="eval", eval_={"maxNewTokens": 12, "stopStrings": [stop], "stripReasoning": True}))
    rep = StdoutReporter(job.run_id)
    report = json.loads(open(run_evaluate(job, rep)["report"]).read())
    rep.close()
    assert report["samples"][0]["prediction"] == full[:full.find(stop)].strip()
    assert report["decoding"]["stopStrings"] == [stop] and report["decoding"]["stripReasoning"] is True
    assert postprocess("<think>let me see</think> 42\nmore", ["\n"], True) == "42"
    assert postprocess("thinking...</think> 42", [], True) == "42"  # template opened <think> in the prompt
    assert postprocess("<think>never finished", [], True) == ""
    assert postprocess("<think>x</think> 42", [], False) == "<think>x</think> 42"
