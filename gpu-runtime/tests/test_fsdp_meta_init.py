"""FSDP start-up at scale (issue 13, defect 8): only rank 0 reads the base model; the other ranks build it on the
meta device and receive their shards by broadcast. Run with 2 gloo processes on the tiny model (tests/fsdp_probe.py
records what each rank held before sharding and the full state after set-up)."""
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from conftest import events, write_job


def _base_key(peft_key: str):
    """PEFT's name for a base weight -> its name in model.safetensors (None for LoRA weights)."""
    if "lora_" in peft_key:
        return None
    return peft_key.removeprefix("base_model.model.").replace(".base_layer.", ".")


def test_fsdp_rank0_loads_others_start_on_meta(work, tiny_model, demo_data, tmp_path):
    probe_out = tmp_path / "probe"
    probe_out.mkdir()
    job = write_job(tmp_path / "job.json", base=tiny_model, data=demo_data, out=str(tmp_path / "out"),
                    training={"maxSteps": 2, "batchSize": 4, "logEverySteps": 1, "checkpointEverySteps": 100,
                              "gradientCheckpointing": True},
                    extra={"distributed": {"nprocPerNode": 2, "strategy": "fsdp"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAPLANE_")}
    env.update(OMP_NUM_THREADS="1", LP_FSDP_PROBE_OUT=str(probe_out),
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
                        os.path.join(os.path.dirname(__file__), "fsdp_probe.py"), "train", "--config", job],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    losses = [p["value"] for e in events(r.stdout) if e["event"] == "metrics" for p in e["points"] if p["key"] == "train/loss"]
    assert len(losses) == 2 and all(l == l and l > 0 for l in losses)  # it trained (finite loss) after the broadcast

    probes = [json.loads((probe_out / f"probe-{rank}.json").read_text()) for rank in (0, 1)]
    # (a) rank 0 read the weights; rank 1 never did and held no parameter storage before sharding
    assert probes[0]["loadBaseModelCalls"] == 1 and probes[0]["beforeShard"]["realBytes"] > 0
    assert probes[0]["beforeShard"]["metaParams"] == 0
    assert probes[1]["loadBaseModelCalls"] == 0, "rank 1 loaded the base model"
    assert probes[1]["beforeShard"]["realBytes"] == 0, probes[1]["beforeShard"]
    assert probes[1]["beforeShard"]["metaParams"] == probes[1]["beforeShard"]["params"] == probes[0]["beforeShard"]["params"]
    assert probes[0]["gradientCheckpointing"] and probes[1]["gradientCheckpointing"]

    # (b) after the broadcast both ranks' full state (gathered from their shards) is rank 0's loaded weights
    states = [torch.load(probe_out / f"state-{rank}.pt") for rank in (0, 1)]
    assert states[0].keys() == states[1].keys()
    for k, v in states[0].items():
        torch.testing.assert_close(states[1][k], v, atol=0, rtol=0, msg=k)
    disk = load_file(os.path.join(tiny_model, "model.safetensors"))
    checked = 0
    for k, v in states[0].items():
        name = _base_key(k)
        if name in disk:
            torch.testing.assert_close(v, disk[name], atol=0, rtol=0, msg=k)
            checked += 1
    assert checked >= len(disk) - 1  # every stored weight (a tied lm_head may be stored or not)
    lora_a = [v for k, v in states[1].items() if "lora_A" in k]
    assert lora_a and all(float(v.abs().max()) > 0 for v in lora_a)  # rank 0's random LoRA init, not zeros/garbage
    # non-persistent buffers (rotary inv_freq) are in no state dict: they must match rank 0's too
    assert probes[0]["buffers"] and probes[0]["buffers"] == probes[1]["buffers"]
