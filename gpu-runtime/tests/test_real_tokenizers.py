"""Prompt / masking / packing / eval / serve with a byte-level BPE tokenizer (Qwen-style chat template, special
tokens, two EOS ids), and BOS handling with a tokenizer that needs BOS (defect 4)."""
import json

import pytest
import torch
from fastapi.testclient import TestClient

from conftest import write_job
from loraplane_runtime import data as D
from loraplane_runtime.config import load_job
from loraplane_runtime.evaluate import run_evaluate
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.reporting import StdoutReporter
from loraplane_runtime.serve import Engine, create_app
from loraplane_runtime.train import token_loss_sum

ALPACA = {"instruction": "Add the two numbers.", "input": "12 30", "output": "42"}
CHAT = {"messages": [{"role": "user", "content": "把JSON转换为键值对。\n\n{\"a\": 1}"}, {"role": "assistant", "content": "a=1"}]}
MULTI = {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "u1"},
                      {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"},
                      {"role": "assistant", "content": "a2"}]}


def _trained_text(tok, ex):
    return tok.decode([i for i, l in zip(ex["input_ids"], ex["labels"]) if l != D.IGNORE_INDEX])


def test_bpe_prompts_and_masking(bpe_model):
    tok = load_tokenizer(bpe_model)
    assert len(tok) > 300 and tok.tokenize("Reverse the string.") != list("Reverse the string.")  # real merges
    fmt = D.PromptFormatter(tok, "auto")
    assert fmt.mode == "chat"
    for row, trained in ((ALPACA, "42<|im_end|>\n"), (CHAT, "a=1<|im_end|>\n"), (MULTI, "a1<|im_end|>\na2<|im_end|>\n")):
        ex = D.tokenize_row(tok, fmt, row, 4096)
        assert _trained_text(tok, ex) == trained
        prompt = fmt.prompt(row)
        assert prompt.endswith("<|im_start|>assistant\n")
        if row is not MULTI:
            n = len(D.encode_prompt(tok, prompt, raw=False))
            assert ex["input_ids"][:n] == D.encode_prompt(tok, prompt, raw=False)  # eval sees the trained prompt
            assert all(l == D.IGNORE_INDEX for l in ex["labels"][:n]) and ex["labels"][n] != D.IGNORE_INDEX
    assert "You are a helpful assistant." in fmt.prompt(CHAT)  # Qwen's default system turn
    assert D.special_prefix(tok) == []  # Qwen adds no BOS


def test_bpe_packing_matches_padding(bpe_model, demo_data):
    tok = load_tokenizer(bpe_model)
    fmt = D.PromptFormatter(tok, "auto")
    exs = D.tokenize_dataset(tok, fmt, D.load_split(demo_data, "train", "auto")[:10], 1024, "train")
    model = load_base_model(bpe_model).eval()
    padded = D.collate_padded(exs, tok.pad_token_id)
    packed = D.collate_packed(exs, tok.pad_token_id, max_len=512)
    assert packed.input_ids.shape[0] < len(exs)
    with torch.no_grad():
        lp, n1 = token_loss_sum(model, padded, torch.device("cpu"))
        lk, n2 = token_loss_sum(model, packed, torch.device("cpu"))
    assert n1 == n2 and float(lk) == pytest.approx(float(lp), rel=1e-5)


def test_bpe_eval_and_serve(bpe_model, demo_data, tmp_path):
    job = load_job(write_job(tmp_path / "job.json", base=bpe_model, data=demo_data, out=str(tmp_path / "out"),
                             stage="eval", eval_={"maxNewTokens": 8, "maxSamples": 4, "batchSize": 2}))
    rep = StdoutReporter(job.run_id)
    report = json.loads(open(run_evaluate(job, rep)["report"]).read())
    rep.close()
    tok = load_tokenizer(bpe_model)
    assert set(report["decoding"]["eosTokenIds"]) == {tok.convert_tokens_to_ids("<|im_end|>"),
                                                      tok.convert_tokens_to_ids("<|endoftext|>")}
    assert report["numSamples"] == 4 and all("<|im_" not in s["prediction"] for s in report["samples"])
    engine = Engine(bpe_model)
    c = TestClient(create_app(engine, "bpe"))
    msgs = CHAT["messages"][:1]
    r = c.post("/v1/chat/completions", json={"model": "bpe", "messages": msgs, "max_tokens": 4, "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == len(D.encode_prompt(tok, engine.fmt.prompt(CHAT), raw=False))


def test_bos_follows_the_tokenizer(bos_model):
    tok = load_tokenizer(bos_model)
    bos = tok.convert_tokens_to_ids("<|bos|>")
    assert tok("abc")["input_ids"][0] == bos  # this tokenizer adds BOS itself (Llama-style post-processor)
    fmt = D.PromptFormatter(tok, "auto")
    assert fmt.mode == "alpaca"
    ex = D.tokenize_row(tok, fmt, ALPACA, 4096)
    assert ex["input_ids"][0] == bos and ex["input_ids"][1] != bos  # once, in training...
    prompt_ids = D.encode_prompt(tok, fmt.prompt(ALPACA), raw=True)
    assert prompt_ids[0] == bos and ex["input_ids"][:len(prompt_ids)] == prompt_ids  # ...and the same in eval
    c = TestClient(create_app(Engine(bos_model), "bos"))
    r = c.post("/v1/completions", json={"model": "bos", "prompt": "abc", "max_tokens": 1}).json()
    assert r["usage"]["prompt_tokens"] == 4  # like vLLM: the tokenizer's special tokens are added to a raw prompt
    r = c.post("/v1/chat/completions", json={"model": "bos", "messages": ALPACA_MSGS, "max_tokens": 1}).json()
    assert r["usage"]["prompt_tokens"] == len(D.encode_prompt(tok, fmt.prompt({"messages": ALPACA_MSGS + [{"role": "assistant", "content": ""}]}), raw=True))


ALPACA_MSGS = [{"role": "user", "content": "Add the two numbers.\n\n12 30"}]
