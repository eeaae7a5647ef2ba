"""#11 finding 11: checkpoint files are loaded with torch.load(weights_only=True): a planted pickle never runs."""
import os
import pickle
import shutil

import pytest
import torch

from conftest import run_cli, write_job


class _Payload:
    """Unpickling this creates a marker file: proof that the pickle ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


TRAINING = {"maxSteps": 2, "checkpointEverySteps": 1, "logEverySteps": 1}


@pytest.fixture(scope="module")
def ckpt_run(work, tiny_model, demo_data):
    out = work / "wonly"
    job = write_job(work / "wonly.json", base=tiny_model, data=demo_data, out=str(out), training=TRAINING)
    r = run_cli(["train", "--config", job])
    assert r.returncode == 0, r.stderr
    return out


def test_rng_and_optimizer_states_load_weights_only(ckpt_run):
    ckpt = ckpt_run / "checkpoints" / "step-1"
    # What the runtime writes must load under the restricted unpickler.
    torch.load(ckpt / "rng-0.pt", weights_only=True)
    torch.load(ckpt / "optim.pt", weights_only=True)


def test_planted_pickle_in_checkpoint_is_refused(ckpt_run, tiny_model, demo_data, tmp_path):
    src = ckpt_run
    for victim in ("rng-0.pt", "optim.pt"):
        out = tmp_path / victim
        shutil.copytree(src / "checkpoints", out / "checkpoints")
        # Drop everything but step-2, then resume-train from it with a poisoned file.
        for n in os.listdir(out / "checkpoints"):
            if n != "step-1":
                shutil.rmtree(out / "checkpoints" / n)
        marker = tmp_path / f"pwned-{victim}"
        with open(out / "checkpoints" / "step-1" / victim, "wb") as f:
            pickle.dump({"state": _Payload(str(marker))}, f)
        job = write_job(tmp_path / f"{victim}.json", base=tiny_model, data=demo_data, out=str(out), training=TRAINING)
        r = run_cli(["train", "--config", job])
        assert not marker.exists(), f"unpickling {victim} ran code"
        assert r.returncode != 0
        assert victim in r.stderr.strip().splitlines()[-1]
