"""Defect 8 (the cheap parts): attention implementation chosen by the spec; trustRemoteCode off by default."""
import json

import pytest

from conftest import run_cli, write_job
from loraplane_runtime.config import load_job
from loraplane_runtime.errors import ConfigError
from loraplane_runtime.modeling import load_base_model


def test_attn_implementation_option(tiny_model, demo_data, tmp_path):
    job = load_job(write_job(tmp_path / "a.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o")))
    assert job.training.attn_implementation == "sdpa" and job.training.trust_remote_code is False
    job = load_job(write_job(tmp_path / "b.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"),
                             training={"attnImplementation": "eager"}))
    assert load_base_model(tiny_model, attn=job.training.attn_implementation).config._attn_implementation == "eager"
    with pytest.raises(ConfigError, match="spec.training.attnImplementation"):
        load_job(write_job(tmp_path / "c.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"),
                           training={"attnImplementation": "magic"}))


def test_remote_code_is_not_run_without_trust_remote_code(tiny_model, demo_data, tmp_path):
    model = tmp_path / "custom-model"
    model.mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (model / f).write_bytes(open(f"{tiny_model}/{f}", "rb").read())
    marker = tmp_path / "code-ran"
    cfg = json.loads(open(f"{tiny_model}/config.json").read())
    cfg.update({"model_type": "lp_custom", "auto_map": {"AutoConfig": "modeling_lp.LpConfig",
                                                        "AutoModelForCausalLM": "modeling_lp.LpModel"}})
    (model / "config.json").write_text(json.dumps(cfg))
    (model / "modeling_lp.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n"
                                          "from transformers import Qwen2Config, Qwen2ForCausalLM\n"
                                          "class LpConfig(Qwen2Config):\n    model_type = 'lp_custom'\n"
                                          "class LpModel(Qwen2ForCausalLM):\n    config_class = LpConfig\n")
    with pytest.raises(ConfigError, match="trustRemoteCode"):
        load_base_model(str(model))
    assert not marker.exists()
    job = write_job(tmp_path / "j.json", base=str(model), data=demo_data, out=str(tmp_path / "o"), stage="train")
    r = run_cli(["train", "--config", job], env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "trustRemoteCode" in r.stderr.strip().splitlines()[-1]
    assert not marker.exists()


def test_packing_keeps_examples_apart_under_every_attention_implementation(tiny_model, demo_data):
    import torch

    from loraplane_runtime import data as D
    from loraplane_runtime.modeling import load_tokenizer
    from loraplane_runtime.train import token_loss_sum

    tok = load_tokenizer(tiny_model)
    exs = D.tokenize_dataset(tok, D.PromptFormatter(tok, "auto"), D.load_split(demo_data, "train", "auto")[:12],
                             1024, "train")
    padded = D.collate_padded(exs, tok.pad_token_id)
    packed = D.collate_packed(exs, tok.pad_token_id, 256)
    assert packed.input_ids.shape[0] < len(exs)
    for attn in ("sdpa", "eager", "flex_attention"):  # flex: document mask derived from restarting position_ids
        model = load_base_model(tiny_model, attn=attn).eval()
        with torch.no_grad():
            lp = float(token_loss_sum(model, padded, torch.device("cpu"))[0])
            lk = float(token_loss_sum(model, packed, torch.device("cpu"))[0])
        assert lk == pytest.approx(lp, rel=1e-5), attn


def test_unavailable_attention_implementation_is_a_config_error(tiny_model):
    import importlib.util

    if importlib.util.find_spec("flash_attn"):
        pytest.skip("flash-attn is installed here")
    with pytest.raises(ConfigError, match="attnImplementation 'flash_attention_2'"):
        load_base_model(tiny_model, attn="flash_attention_2")  # flash-attn is not installed here
