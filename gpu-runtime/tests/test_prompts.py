"""Defect 1: train, eval and serve build the identical prompt for every dataset format x prompt template."""
import copy

import pytest
from fastapi.testclient import TestClient

from loraplane_runtime import data as D
from loraplane_runtime.modeling import load_tokenizer
from loraplane_runtime.serve import Engine, create_app

ROWS = {
    "alpaca+input": {"instruction": "Reverse the string.", "input": "abc", "output": "cba"},
    "alpaca": {"instruction": "Add 2 and 3.", "output": "5"},
    "chat": {"messages": [{"role": "user", "content": "Uppercase: abc"}, {"role": "assistant", "content": "ABC"}]},
    "chat+system": {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"},
                                 {"role": "assistant", "content": "4"}]},
    "chat multi-turn": {"messages": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
                                     {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]},
}


@pytest.fixture(scope="module")
def tokenizers(tiny_model):
    with_chat = load_tokenizer(tiny_model)
    without = copy.deepcopy(with_chat)
    without.chat_template = None
    return {"chat-template tokenizer": with_chat, "no-chat-template tokenizer": without}


def _combos(tokenizers):
    for tname, tok in tokenizers.items():
        for template in ("auto", "alpaca", "chat"):
            if template == "chat" and not tok.chat_template:
                continue
            for rname, row in ROWS.items():
                yield tname, tok, template, rname, row


def test_train_prompt_equals_eval_prompt_for_every_combination(tokenizers):
    seen_modes = set()
    for tname, tok, template, rname, row in _combos(tokenizers):
        fmt = D.PromptFormatter(tok, template)
        seen_modes.add(fmt.mode)
        segs = fmt.segments(row)
        assert segs[-1][1] and not segs[-2][1], (tname, template, rname, segs)
        trained_prefix = "".join(text for text, _ in segs[:-1])  # what training conditions the last response on
        eval_prompt = fmt.prompt(row)
        assert eval_prompt == trained_prefix, (tname, template, rname)
        # serve's chat endpoint renders the conversation before the last assistant turn the same way
        # (an Alpaca row's instruction/input split has no chat equivalent: clients send it to /v1/completions)
        if "messages" in row:
            assert fmt.prompt_from_messages(row["messages"][:-1]) == eval_prompt, (tname, template, rname)
        # and the response that is trained is the reference eval compares against
        assert segs[-1][0].startswith(D.reference_of(row)), (tname, template, rname)
        ex = D.tokenize_row(tok, fmt, row, 4096)
        n = len(D.encode_prompt(tok, eval_prompt, raw=fmt.mode == "alpaca"))
        if rname != "chat multi-turn":  # multi-turn also trains a1, so only the last turn's prefix is all-masked
            assert ex["input_ids"][:n] == D.encode_prompt(tok, eval_prompt, raw=fmt.mode == "alpaca")
            assert all(label == D.IGNORE_INDEX for label in ex["labels"][:n])
            assert ex["labels"][n] != D.IGNORE_INDEX
    assert seen_modes == {"alpaca", "chat"}


def test_chat_rows_under_alpaca_template_use_the_alpaca_prompt(tokenizers):
    tok = tokenizers["no-chat-template tokenizer"]
    fmt = D.PromptFormatter(tok, "auto")
    assert fmt.mode == "alpaca"
    p = fmt.prompt(ROWS["chat+system"])
    assert p.startswith("Below is an instruction") and p.endswith("### Response:\n") and "Be terse.\n2+2?" in p


def test_serve_chat_uses_the_training_prompt(tiny_model):
    for template in ("alpaca", "chat"):
        engine = Engine(tiny_model, prompt_template=template)
        if template == "alpaca":
            engine.tok.chat_template = None  # a base model without a chat template
            engine.fmt = D.PromptFormatter(engine.tok, "auto")
        c = TestClient(create_app(engine, "tiny"))
        row = ROWS["chat+system"]
        r = c.post("/v1/chat/completions", json={"model": "tiny", "messages": row["messages"][:-1], "max_tokens": 1})
        assert r.status_code == 200, r.text
        expected = D.encode_prompt(engine.tok, engine.fmt.prompt(row), raw=engine.fmt.mode == "alpaca")
        assert r.json()["usage"]["prompt_tokens"] == len(expected)


def test_serve_uses_the_template_each_adapter_was_trained_with(tiny_model, tmp_path):
    """Training with promptTemplate 'alpaca' on a chat-template tokenizer: serve must not answer that adapter's
    chat requests with the chat template (train writes loraplane.json next to the adapter)."""
    from peft import LoraConfig, get_peft_model

    from loraplane_runtime.modeling import load_base_model

    adapter = tmp_path / "ad"
    get_peft_model(load_base_model(tiny_model), LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(adapter)
    (adapter / D.ADAPTER_META).write_text('{"promptTemplate": "alpaca"}')
    engine = Engine(tiny_model)
    engine.load_adapter("alp", str(adapter))
    c = TestClient(create_app(engine, "tiny"))
    row = ROWS["chat"]
    msgs = row["messages"][:-1]
    for model, template in (("alp", "alpaca"), ("tiny", "chat")):
        r = c.post("/v1/chat/completions", json={"model": model, "messages": msgs, "max_tokens": 1})
        fmt = D.PromptFormatter(engine.tok, template)
        assert r.json()["usage"]["prompt_tokens"] == len(D.encode_prompt(engine.tok, fmt.prompt(row), template == "alpaca"))
