import torch
import pytest

from loraplane_runtime import data as D
from loraplane_runtime.errors import DataError
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.train import token_loss_sum


def test_prompt_tokens_are_masked(tiny_model):
    tok = load_tokenizer(tiny_model)
    for template in ("auto", "alpaca"):
        fmt = D.PromptFormatter(tok, template)
        row = {"instruction": "Reverse the string.", "input": "abc", "output": "cba"}
        ex = D.tokenize_row(tok, fmt, row, 1024)
        trained = [i for i, l in zip(ex["input_ids"], ex["labels"]) if l != D.IGNORE_INDEX]
        assert tok.decode(trained) == "cba" + tok.eos_token
        n_prompt = len(tok(fmt.prompt(row), add_special_tokens=False)["input_ids"])
        assert all(l == D.IGNORE_INDEX for l in ex["labels"][:n_prompt])
        assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]


def test_chat_multi_turn_trains_only_assistant_turns(tiny_model):
    tok = load_tokenizer(tiny_model)
    fmt = D.PromptFormatter(tok, "chat")
    row = {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"},
                        {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"},
                        {"role": "assistant", "content": "a2"}]}
    ex = D.tokenize_row(tok, fmt, row, 1024)
    trained = tok.decode([i for i, l in zip(ex["input_ids"], ex["labels"]) if l != D.IGNORE_INDEX])
    assert trained == "a1<|eos|>a2<|eos|>"


def test_malformed_jsonl_reports_line(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "c", "output": \n')
    with pytest.raises(DataError, match=r"train.jsonl:3: malformed JSON"):
        D.load_split(str(tmp_path), "train", "auto")


def test_packed_and_padded_batches_give_same_loss(tiny_model, demo_data):
    tok = load_tokenizer(tiny_model)
    fmt = D.PromptFormatter(tok, "auto")
    rows = D.load_split(demo_data, "train", "auto")[:12]
    exs = D.tokenize_dataset(tok, fmt, rows, 1024, "train")
    model = load_base_model(tiny_model).eval()
    padded = D.collate_padded(exs, tok.pad_token_id)
    packed = D.collate_packed(exs, tok.pad_token_id, max_len=256)
    assert packed.input_ids.shape[0] < len(exs)  # several examples really share a row
    assert packed.input_ids.numel() < padded.input_ids.numel()
    assert packed.real_tokens == padded.real_tokens
    with torch.no_grad():
        lp, np_ = token_loss_sum(model, padded, torch.device("cpu"))
        lk, nk = token_loss_sum(model, packed, torch.device("cpu"))
        # Without the block-diagonal mask the packed loss would differ: prove the check can fail.
        leaky = D.Batch(packed.input_ids, packed.labels, torch.ones_like(packed.input_ids),
                        torch.arange(packed.input_ids.shape[1]).expand_as(packed.input_ids), packed.real_tokens)
        ll, _ = token_loss_sum(model, leaky, torch.device("cpu"))
    assert np_ == nk
    assert float(lk) == pytest.approx(float(lp), rel=1e-5)
    assert abs(float(ll) - float(lp)) > 1e-3 * float(lp)


def test_epoch_batches_deterministic_and_complete():
    lengths = [5, 9, 3, 7, 2, 8, 4, 6, 1, 10]
    a = D.epoch_batches(lengths, 3, seed=1, epoch=0)
    assert a == D.epoch_batches(lengths, 3, seed=1, epoch=0)
    assert a != D.epoch_batches(lengths, 3, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(10))


def test_padded_width_rounds_up_to_a_multiple(tiny_model, demo_data):
    """On a GPU each new batch width costs a first-time kernel selection (bench/shape_check.py): widths are rounded
    up to GPU_PAD_MULTIPLE there, with the extra columns pure padding (no real tokens, no labels)."""
    tok = load_tokenizer(tiny_model)
    exs = D.tokenize_dataset(tok, D.PromptFormatter(tok, "auto"), D.load_split(demo_data, "train", "auto")[:6], 1024, "train")
    plain = D.collate_padded(exs, tok.pad_token_id)
    rounded = D.collate_padded(exs, tok.pad_token_id, 64)
    w = plain.input_ids.shape[1]
    assert w % 64 != 0 and rounded.input_ids.shape[1] == -(-w // 64) * 64
    assert rounded.real_tokens == plain.real_tokens
    assert torch.equal(rounded.input_ids[:, :w], plain.input_ids) and torch.equal(rounded.labels[:, :w], plain.labels)
    assert (rounded.attention_mask[:, w:] == 0).all() and (rounded.labels[:, w:] == D.IGNORE_INDEX).all()
    with torch.no_grad():
        model = load_base_model(tiny_model).eval()
        assert token_loss_sum(model, rounded, torch.device("cpu"))[1] == token_loss_sum(model, plain, torch.device("cpu"))[1]
