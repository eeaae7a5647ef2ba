"""Run under torchrun by tests/test_fsdp_meta_init.py: the runtime's `train` CLI with probes on the FSDP set-up.

Each rank writes `probe-<rank>.json` (calls to load_base_model, the parameters as they were just before sharding,
the model's buffers after set-up) and `state-<rank>.pt` (the full model state gathered after set-up, i.e. after the
broadcast from rank 0) into $LP_FSDP_PROBE_OUT."""
import json
import os
import sys

import torch

from loraplane_runtime import cli
from loraplane_runtime import train as T

OUT = os.environ["LP_FSDP_PROBE_OUT"]
RANK = int(os.environ["RANK"])
record = {"rank": RANK, "loadBaseModelCalls": 0}

_load = T.load_base_model


def counting_load(*args, **kwargs):
    record["loadBaseModelCalls"] += 1
    return _load(*args, **kwargs)


_shard = T.Trainer._shard


def probed_shard(self):
    params = list(self.model.parameters())
    record["beforeShard"] = {
        "params": len(params),
        "metaParams": sum(1 for p in params if p.is_meta),
        "realBytes": sum(p.numel() * p.element_size() for p in params if not p.is_meta),
    }
    _shard(self)


_setup = T.Trainer.setup


def probed_setup(self):
    _setup(self)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    # Collective; without cpu_offload every rank receives the full tensors, gathered from all ranks' shards.
    full = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True))
    torch.save({k: v.detach().cpu().clone() for k, v in full.items()}, os.path.join(OUT, f"state-{RANK}.pt"))
    record["buffers"] = {n: b.detach().cpu().float().tolist() for n, b in self.model.named_buffers()}
    record["gradientCheckpointing"] = bool(getattr(self, "gradient_checkpointing", False))


T.load_base_model = counting_load
T.Trainer._shard = probed_shard
T.Trainer.setup = probed_setup

if __name__ == "__main__":
    code = cli.main(sys.argv[1:])
    with open(os.path.join(OUT, f"probe-{RANK}.json"), "w") as f:
        json.dump(record, f)
    sys.exit(code)
