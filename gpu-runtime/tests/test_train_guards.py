"""Defect 5: maxSeqLength is capped at the model's context, truncated/dropped examples are counted, and an
empty result fails clearly. Defect 6: resume refuses a checkpoint written for another model, dataset or spec."""
import json
import shutil

import pytest

from conftest import write_job
from loraplane_runtime.config import load_job
from loraplane_runtime.errors import ConfigError, DataError
from loraplane_runtime.reporting import Reporter
from loraplane_runtime.train import Trainer


class Capture(Reporter):
    def __init__(self):
        super().__init__("t")
        self.points, self.artifacts = [], []

    def metrics(self, points):
        self.points += points

    def artifact(self, kind, path, sha256, size):
        self.artifacts.append(kind)

    def value(self, key):
        return next(p["value"] for p in self.points if p["key"] == key)


def _trainer(tmp_path, name, base, data, training):
    job = load_job(write_job(tmp_path / f"{name}.json", base=base, data=data, out=str(tmp_path / "out"),
                             training=training))
    return Trainer(job, Capture())


def test_max_seq_length_capped_at_context_with_counts(short_model, tmp_path):
    d = tmp_path / "long"
    d.mkdir()
    rows = [{"instruction": "Repeat.", "input": "x" * 20, "output": "y" * 10} for _ in range(6)]  # fits in 128
    rows += [{"instruction": "Repeat.", "input": "ab", "output": "z" * 300} for _ in range(3)]  # response truncated
    rows += [{"instruction": "Repeat." * 40, "output": "q"} for _ in range(2)]  # prompt alone > 128: dropped
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tr = _trainer(tmp_path, "cap", short_model, str(d), {"maxSeqLength": 100_000_000, "batchSize": 2})
    tr.setup()
    assert tr.max_len == 128
    assert max(tr.lengths) == 128 and len(tr.examples) == 9
    assert tr.rep.value("data/truncated_examples") == 3
    assert tr.rep.value("data/dropped_examples") == 2
    assert tr.rep.value("data/max_seq_length") == 128

    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[-2:]))
    tr = _trainer(tmp_path, "empty", short_model, str(d), {"maxSeqLength": 100_000_000, "batchSize": 2})
    with pytest.raises(DataError, match=r"all 2 examples were dropped.*maxSeqLength=128"):
        tr.setup()


def test_resume_refuses_a_different_model_dataset_or_spec(tiny_model, short_model, demo_data, tmp_path):
    training = {"maxSteps": 2, "checkpointEverySteps": 1, "batchSize": 4}
    tr = _trainer(tmp_path, "first", tiny_model, demo_data, training)
    tr.setup()
    tr.run()
    assert (tmp_path / "out" / "checkpoints" / "step-1" / "trainer_state.json").exists()
    adapter = tr.save_adapter()
    assert json.loads(open(f"{adapter}/loraplane.json").read()) == {"promptTemplate": "chat"}  # read by serve
    assert "loraplane.json" in {f["path"] for f in json.loads(open(f"{adapter}/manifest.json").read())["files"]}

    with pytest.raises(ConfigError, match=r"training\.learningRate 0\.001 -> 0\.002"):
        _trainer(tmp_path, "lr", tiny_model, demo_data, {**training, "learningRate": 2e-3}).setup()
    with pytest.raises(ConfigError, match=r"training\.lora .*\"r\": 8.*\"r\": 4"):
        _trainer(tmp_path, "r", tiny_model, demo_data, {**training, "lora": {"r": 4, "alpha": 16}}).setup()
    with pytest.raises(ConfigError, match="base model"):
        _trainer(tmp_path, "model", short_model, demo_data, training).setup()
    other = tmp_path / "other-data"
    shutil.copytree(demo_data, other)
    with open(other / "train.jsonl", "a") as f:
        f.write(json.dumps({"instruction": "one more", "output": "row"}) + "\n")
    with pytest.raises(ConfigError, match="dataset digest"):
        _trainer(tmp_path, "data", tiny_model, str(other), training).setup()
    # What may change (logging, checkpoint cadence) does not block a resume.
    tr = _trainer(tmp_path, "same", tiny_model, demo_data, {**training, "logEverySteps": 1, "checkpointEverySteps": 5})
    tr.setup()
    assert tr.step == 1
