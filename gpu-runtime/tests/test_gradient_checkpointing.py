"""training.gradientCheckpointing: auto | true | false (issue 13, defect 8). `auto` turns it on on GPU when the peak
memory without it, estimated from bench/gc_bench.py's H200 measurement, would exceed 80 % of the device's memory."""
import pytest
import torch

from conftest import write_job
from loraplane_runtime import train as T
from loraplane_runtime.config import load_job
from loraplane_runtime.errors import ConfigError
from loraplane_runtime.reporting import Reporter

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


class Quiet(Reporter):
    def metrics(self, points):
        pass

    def artifact(self, *args):
        pass


def _job(tmp_path, name, tiny_model, demo_data, training):
    return load_job(write_job(tmp_path / f"{name}.json", base=tiny_model, data=demo_data, out=str(tmp_path / name),
                              training=training))


def test_spec_values(tiny_model, demo_data, tmp_path):
    assert _job(tmp_path, "a", tiny_model, demo_data, {}).training.gradient_checkpointing == "auto"
    for value, parsed in (("auto", "auto"), (True, True), (False, False), ("true", True), ("false", False)):
        job = _job(tmp_path, "b", tiny_model, demo_data, {"gradientCheckpointing": value})
        assert job.training.gradient_checkpointing == parsed
    for bad in ("sometimes", 1, "on"):
        with pytest.raises(ConfigError, match=r"spec.training.gradientCheckpointing must be one of \['auto', true, false\]"):
            _job(tmp_path, "c", tiny_model, demo_data, {"gradientCheckpointing": bad})


def test_auto_rule():
    # The measured points themselves (8 x 1024 tokens): 0.5B peaked at 24.6 GiB, 3B at 61.1 GiB without checkpointing.
    assert T.estimated_peak_gib(494_032_768, 8192) == pytest.approx(24.62, abs=0.01)
    assert T.estimated_peak_gib(3_085_938_688, 8192) == pytest.approx(61.15, abs=0.01)
    auto = lambda params, gib, tokens=8192: T.use_gradient_checkpointing("auto", params, CUDA, tokens, gib)  # noqa: E731
    assert auto(494_032_768, 139.8) is False  # 0.5B on an H200: checkpointing would only cost 43 % of tokens/s
    assert auto(494_032_768, 24.0) is True  # the same run on a 24 GB card would not fit without it
    assert auto(494_032_768, 24.0, tokens=2048) is False  # ... unless the micro-batch is 4x smaller
    assert auto(3_085_938_688, 80.0) is False  # 3B: 61 GiB fits an 80 GB card
    assert auto(3_085_938_688, 80.0, tokens=16_384) is True  # twice the tokens per micro-batch does not
    assert auto(7_600_000_000, 139.8) is True  # 7B extrapolates past 80 % of an H200
    assert T.use_gradient_checkpointing("auto", 70_000_000_000, CPU) is False  # never automatically on a CPU
    assert T.use_gradient_checkpointing(True, 1, CPU) is True  # explicit values win both ways
    assert T.use_gradient_checkpointing(False, 70_000_000_000, CUDA, 8192, 24.0) is False


def test_trainer_applies_the_setting_and_the_math_is_unchanged(tiny_model, demo_data, tmp_path):
    from loraplane_runtime import data as D

    grads, losses = {}, {}
    for value in ("auto", True):
        tr = T.Trainer(_job(tmp_path, f"gc-{value}", tiny_model, demo_data,
                            {"gradientCheckpointing": value, "lora": {"r": 8, "alpha": 16, "dropout": 0.0}}), Quiet("t"))
        tr.setup()
        base = tr.model.get_base_model()
        assert tr.gradient_checkpointing is (value is True)  # auto on a CPU: off
        assert base.is_gradient_checkpointing is (value is True)
        with torch.no_grad():  # a non-zero LoRA B, so the gradients reach lora_A too
            for n, p in tr.model.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.full_like(p, 0.01))
        tr.model.train()
        batch = D.collate_padded(tr.examples[:4], tr.tok.pad_token_id)
        loss, n = T.token_loss_sum(tr.model, batch, tr.env.device)
        (loss / n).backward()
        losses[value] = float(loss.detach())
        grads[value] = {k: p.grad.clone() for k, p in tr.model.named_parameters() if p.requires_grad}
    assert losses[True] == pytest.approx(losses["auto"], rel=1e-6)
    assert grads[True].keys() == grads["auto"].keys() and grads[True]
    for k, g in grads["auto"].items():
        torch.testing.assert_close(grads[True][k], g, atol=1e-6, rtol=1e-5, msg=k)
        assert float(g.abs().max()) > 0, k
