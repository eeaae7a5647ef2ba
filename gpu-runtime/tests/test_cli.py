import pytest
import torch

from conftest import write_job
from loraplane_runtime import cli


@pytest.mark.parametrize("cmd", ["train", "evaluate", "serve", "export", "make-tiny-model", "make-demo-data"])
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: loraplane-runtime " + cmd in capsys.readouterr().out


def test_oom_maps_to_exit_4(monkeypatch, tmp_path, tiny_model, demo_data, capsys):
    import loraplane_runtime.train as train

    def boom(job, rep):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "run_train", boom)
    job = write_job(tmp_path / "j.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"))
    assert cli.main(["train", "--config", job]) == 4
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("loraplane-runtime: error: out of memory")


def test_unexpected_failure_exits_1(monkeypatch, tmp_path, tiny_model, demo_data, capsys):
    import loraplane_runtime.train as train

    monkeypatch.setattr(train, "run_train", lambda job, rep: 1 / 0)
    job = write_job(tmp_path / "j.json", base=tiny_model, data=demo_data, out=str(tmp_path / "o"))
    assert cli.main(["train", "--config", job]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "loraplane-runtime: error: ZeroDivisionError: division by zero"


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert cli.main(["evaluate", "--config", str(tmp_path / "nope.json")]) == 2
    assert "config file not found" in capsys.readouterr().err
