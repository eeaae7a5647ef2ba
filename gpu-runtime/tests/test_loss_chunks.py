"""Defect 8 (loss memory): the chunked loss equals the plain full-logits fp32 loss, value and gradients."""
import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model

from loraplane_runtime import data as D
from loraplane_runtime.modeling import load_base_model, load_tokenizer
from loraplane_runtime.train import token_loss_sum


def _full_fp32_loss(model, b):
    out = model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids, use_cache=False)
    logits = out.logits[:, :-1].float()
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), b.labels[:, 1:].reshape(-1),
                           ignore_index=D.IGNORE_INDEX, reduction="sum")


def test_chunked_loss_matches_full_loss_and_grads(tiny_model, demo_data):
    tok = load_tokenizer(tiny_model)
    exs = D.tokenize_dataset(tok, D.PromptFormatter(tok, "auto"), D.load_split(demo_data, "train", "auto")[:6],
                             1024, "train")
    b = D.collate_padded(exs, tok.pad_token_id)
    torch.manual_seed(0)
    model = get_peft_model(load_base_model(tiny_model), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                                   init_lora_weights=False))
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in params]

    ref = _full_fp32_loss(model, b)
    g_ref = grads(ref)
    for chunk in (7, 10 ** 6):
        loss, n = token_loss_sum(model, b, torch.device("cpu"), chunk_tokens=chunk)
        assert n == int((b.labels[:, 1:] != D.IGNORE_INDEX).sum())
        assert float(loss) == pytest.approx(float(ref), rel=1e-5)
        for a, c in zip(grads(loss), g_ref):
            torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-4)
    with torch.no_grad():
        assert float(token_loss_sum(model, b, torch.device("cpu"), chunk_tokens=5)[0]) == pytest.approx(float(ref), rel=1e-5)
