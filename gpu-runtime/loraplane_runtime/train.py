"""LoRA fine-tuning loop (no Trainer): dynamic padding or packing, grad accumulation,
warmup + cosine/linear schedule, periodic resumable checkpoints, SIGTERM -> checkpoint + exit 75,
DDP via torchrun (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import time
from datetime import datetime, timezone
from typing import Optional

import torch
import torch.distributed as tdist
import torch.nn.functional as F
import torch.utils.checkpoint

from . import data as D
from . import tracing
from .config import Job
from .errors import ConfigError, DataError, Preempted
from .modeling import (dir_digest, load_base_model, load_model_config, load_tokenizer, model_context_length,
                       pick_dtype, sha256_file, validate_target_modules, write_manifest)
from .reporting import Reporter, log, point

KEEP_CHECKPOINTS = 2
GRAD_CLIP = 1.0
# Spec fields that may change between a checkpoint and its resumption (they do not change the math).
RESUME_FREE_FIELDS = {"log_every_steps", "checkpoint_every_steps", "gradient_checkpointing", "attn_implementation"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


class DistEnv:
    """RANK / WORLD_SIZE / LOCAL_RANK as set by torchrun; a single process otherwise.

    `group_for_one`: also start a (one-member) process group when torchrun launched a single process, so FSDP runs
    the same code path on one GPU as on many."""

    def __init__(self, group_for_one: bool = False):
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if torch.cuda.is_available():
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        self.grouped = self.world > 1 or (group_for_one and "MASTER_ADDR" in os.environ and "WORLD_SIZE" in os.environ)
        if self.grouped and not tdist.is_initialized():
            tdist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> list:
        if self.world == 1:  # no device round trip (each one a host-device sync) when there is nothing to reduce
            return [float(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        tdist.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def close(self) -> None:
        if self.grouped and tdist.is_initialized():
            tdist.destroy_process_group()


def lr_lambda(kind: str, warmup: int, total: int):
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        frac = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1 + math.cos(math.pi * frac)) if kind == "cosine" else 1.0 - frac
    return f


LOSS_CHUNK_TOKENS = 4096

# `training.gradientCheckpointing: auto` turns checkpointing on, on GPU only, when the estimated peak memory without it
# would exceed this share of the device's memory (on CPU memory is rarely the limit and the recompute is pure loss).
GRADIENT_CHECKPOINTING_MEMORY_SHARE = 0.8
# Peak GiB without checkpointing at 8 x 1024 tokens per micro-batch, LoRA r=16 on all projections, bf16, Qwen2.5
# shapes, measured by bench/gc_bench.py on an H200 (bench/RESULTS.md, 2026-12-01). Checkpointing cost 29-43 % of
# tokens/s there, so it is worth it only where the run would not fit without it.
_PEAK_GIB_WITHOUT_CHECKPOINTING = ((0.494e9, 24.62), (1.544e9, 40.93), (3.086e9, 61.15))
_MEASURED_TOKENS = 8 * 1024


def estimated_peak_gib(n_params: int, tokens_per_micro_batch: int) -> float:
    """Peak memory without checkpointing: piecewise-linear in parameters through the measured points (extrapolated
    from the nearest segment), scaled by tokens per micro-batch (activations and logits, most of the peak, grow with
    them), never below the bf16 weights themselves."""
    pts = _PEAK_GIB_WITHOUT_CHECKPOINTING
    (x0, y0), (x1, y1) = next(((a, b) for a, b in zip(pts, pts[1:]) if n_params <= b[0]), (pts[-2], pts[-1]))
    at_measured = y0 + (y1 - y0) * (n_params - x0) / (x1 - x0)
    return max(2 * n_params / 2 ** 30, at_measured * tokens_per_micro_batch / _MEASURED_TOKENS)


def use_gradient_checkpointing(setting, n_params: int, device: torch.device, tokens_per_micro_batch: int = _MEASURED_TOKENS,
                               device_memory_gib: Optional[float] = None) -> bool:
    """`setting` is the spec's `auto` | True | False; `auto` decides by the estimated peak against the GPU's memory."""
    if isinstance(setting, bool):
        return setting
    if device.type != "cuda":
        return False
    if device_memory_gib is None:
        device_memory_gib = torch.cuda.get_device_properties(device).total_memory / 2 ** 30
    return estimated_peak_gib(n_params, tokens_per_micro_batch) > GRADIENT_CHECKPOINTING_MEMORY_SHARE * device_memory_gib


# Dynamic padding rounds each batch's width up to this on a GPU: at most max_len / 64 distinct shapes, so the
# first-time cost of a new width (up to ~1.5 s on an H200) is paid a few times, not once per length.
GPU_PAD_MULTIPLE = 64


def enable_gradient_checkpointing(model) -> None:
    """Recompute each decoder layer's activations in backward (non-reentrant: works with a frozen base, where the
    inputs of the first layer do not require grad, and under FSDP2)."""
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()


def build_meta_model(path: str, dtype: torch.dtype, attn, trust_remote_code: bool = False):
    """The base model's module tree with every parameter on the meta device: no weight is read or allocated.
    FSDP ranks other than 0 start from this and receive their shards from rank 0."""
    from transformers import AutoModelForCausalLM

    config = load_model_config(path, trust_remote_code)
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if attn:
        kwargs["attn_implementation"] = attn
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, **kwargs)


def real_parameter_bytes(model) -> int:
    """Bytes of parameter storage actually allocated (meta parameters take none)."""
    return sum(p.numel() * p.element_size() for p in model.parameters() if not p.is_meta)


def _ce_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), labels, reduction="sum")


def token_loss_sum(model, batch: D.Batch, device, chunk_tokens: int = LOSS_CHUNK_TOKENS) -> tuple:
    """Sum of next-token cross-entropy over response tokens, and their count.

    Only response positions are scored (prompt and pad logits are never upcast), in chunks of `chunk_tokens`:
    each chunk is upcast to fp32 on its own and, when training, recomputed in backward (activation
    checkpointing), so neither a full-vocabulary fp32 copy of the logits nor its softmax is ever kept."""
    out = model(input_ids=batch.input_ids.to(device),
                attention_mask=None if batch.attention_mask is None else batch.attention_mask.to(device),
                position_ids=batch.position_ids.to(device), use_cache=False)
    # Scored positions found where the labels are (the CPU, in training): nonzero() on a GPU waits for the GPU.
    labels = batch.labels[:, 1:]
    rows, cols = (labels != D.IGNORE_INDEX).nonzero(as_tuple=True)
    n = int(rows.numel())
    labels, rows, cols = labels.to(device), rows.to(device), cols.to(device)
    if n == 0:
        return out.logits.sum() * 0.0, 0  # keeps the graph (DDP/FSDP expect a backward)
    total = None
    for s in range(0, n, chunk_tokens):
        r, c = rows[s:s + chunk_tokens], cols[s:s + chunk_tokens]
        lg, lb = out.logits[r, c], labels[r, c]  # gathers only this chunk's rows of the logits
        if torch.is_grad_enabled() and lg.requires_grad:
            part = torch.utils.checkpoint.checkpoint(_ce_sum, lg, lb, use_reentrant=False)
        else:
            part = _ce_sum(lg, lb)
        total = part if total is None else total + part
    return total, n


def rng_state() -> dict:
    """RNG states as tensors and plain numbers only, so they load with torch.load(weights_only=True)."""
    version, internal, gauss = random.getstate()
    s = {"pythonVersion": version, "python": torch.tensor(internal, dtype=torch.int64),
         "pythonGauss": gauss, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict) -> None:
    random.setstate((s["pythonVersion"], tuple(int(x) for x in s["python"].tolist()), s["pythonGauss"]))
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def load_checkpoint_file(path: str, map_location=None):
    """torch.load restricted to tensors and plain containers: a planted pickle in a checkpoint never runs."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - UnpicklingError or anything a tampered file raises
        raise ConfigError(f"checkpoint file {path} cannot be loaded safely (weights_only): "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def find_checkpoint(ckpt_root: str):
    """Newest complete checkpoint: only fully written ones are renamed from `.tmp` to `step-N`."""
    if not os.path.isdir(ckpt_root):
        return None
    done = []
    for name in os.listdir(ckpt_root):
        p = os.path.join(ckpt_root, name)
        if name.startswith("step-") and name[5:].isdigit() and os.path.isfile(os.path.join(p, "trainer_state.json")):
            done.append((int(name[5:]), p))
    return max(done)[1] if done else None


def resume_source(path: str) -> str:
    """The checkpoint `paths.resumeFrom` names: a `step-N` folder, a `checkpoints` folder or an attempt's output
    folder (its newest complete checkpoint). A source with none is an error: the control plane handed it over because
    it recorded a checkpoint there, so silently starting from scratch would hide lost work."""
    if os.path.isfile(os.path.join(path, "trainer_state.json")):
        return path
    found = find_checkpoint(path) or find_checkpoint(os.path.join(path, "checkpoints"))
    if not found:
        raise ConfigError(f"paths.resumeFrom {path}: no complete checkpoint there")
    return found


class Trainer:
    def __init__(self, job: Job, reporter: Reporter):
        self.job, self.spec, self.rep = job, job.training, reporter
        self.env = DistEnv(group_for_one=job.distributed.strategy == "fsdp")
        self.fsdp = job.distributed.strategy == "fsdp" and self.env.grouped
        self.out_dir = job.paths.output_dir
        self.ckpt_root = os.path.join(self.out_dir, "checkpoints")
        self.stop_requested = False
        self._cached_epoch, self._batches = None, []
        self.resumed = None  # {"checkpoint", "step"} when this process continued from a checkpoint

    # -- setup ------------------------------------------------------------------------
    def setup(self) -> None:
        from peft import LoraConfig, get_peft_model

        s, env = self.spec, self.env
        random.seed(s.seed)
        torch.manual_seed(s.seed)
        self.tok = load_tokenizer(self.job.paths.base_model, trust_remote_code=s.trust_remote_code)
        self.fmt = D.PromptFormatter(self.tok, s.prompt_template)
        self.context = model_context_length(load_model_config(self.job.paths.base_model, s.trust_remote_code))
        self.max_len = s.max_seq_length
        if self.context and self.max_len > self.context:
            log(f"warning: maxSeqLength {self.max_len} exceeds the model's context of {self.context} positions; "
                f"using {self.context}")
            self.max_len = self.context
        path = D.split_path(self.job.paths.data_dir, "train")
        rows = D.load_split(self.job.paths.data_dir, "train", self.job.dataset_format)
        stats: dict = {}
        self.examples = D.tokenize_dataset(self.tok, self.fmt, rows, self.max_len, path, stats)
        self.data_stats = stats
        if stats["truncated"] or stats["dropped"]:
            log(f"warning: {stats['truncated']} of {len(rows)} training examples truncated to {self.max_len} tokens, "
                f"{stats['dropped']} dropped (no response token within {self.max_len})")
        self.rep.metrics([point("data/train_examples", 0, stats["examples"]),
                          point("data/truncated_examples", 0, stats["truncated"]),
                          point("data/dropped_examples", 0, stats["dropped"]),
                          point("data/max_seq_length", 0, self.max_len)])
        self.lengths = [len(e["input_ids"]) for e in self.examples]
        n_batches = math.ceil(len(self.examples) / s.batch_size)
        self.micro_per_epoch = n_batches // env.world
        self.steps_per_epoch = self.micro_per_epoch // s.gradient_accumulation
        if self.steps_per_epoch == 0:
            raise DataError(f"{path}: {len(self.examples)} examples are fewer than one optimizer step needs "
                            f"(batchSize {s.batch_size} x gradientAccumulation {s.gradient_accumulation} x {env.world} processes)")
        self.total_steps = s.max_steps or max(1, math.ceil(s.epochs * self.steps_per_epoch))

        self.dtype = pick_dtype(s.precision, env.device)
        # Under FSDP only rank 0 reads the weights (to CPU); the other ranks build the same module tree on the meta
        # device and get their shards by broadcast from rank 0 after sharding (_shard), so a model larger than one
        # process's memory can start and the files are read once per node, not once per GPU.
        meta_init = self.fsdp and not env.main
        if meta_init:
            model = build_meta_model(self.job.paths.base_model, self.dtype, s.attn_implementation, s.trust_remote_code)
        else:
            model = load_base_model(self.job.paths.base_model, self.dtype, s.attn_implementation,
                                    trust_remote_code=s.trust_remote_code)
        validate_target_modules(model, s.lora.target_modules)
        model.config.use_cache = False
        self.base_params = sum(p.numel() for p in model.parameters())
        self.gradient_checkpointing = use_gradient_checkpointing(s.gradient_checkpointing, self.base_params, env.device,
                                                                 tokens_per_micro_batch=s.batch_size * self.max_len)
        if self.gradient_checkpointing:
            enable_gradient_checkpointing(model)
        lora = LoraConfig(r=s.lora.r, lora_alpha=s.lora.alpha, lora_dropout=s.lora.dropout,
                          target_modules=s.lora.target_modules, task_type="CAUSAL_LM")
        with torch.device("meta") if meta_init else contextlib.nullcontext():
            self.model = get_peft_model(model, lora)
        if not self.fsdp:  # fully_shard moves each layer to the GPU as it shards it: the full model never is
            self.model = self.model.to(env.device)
        for p in self.model.parameters():  # adapters train in fp32 even on a bf16/fp16 base
            if p.requires_grad:
                p.data = p.data.float()
        # This attempt's own newest checkpoint (a restarted pod of the same attempt) wins over an earlier attempt's.
        ckpt = find_checkpoint(self.ckpt_root)
        if ckpt is None and self.job.paths.resume_from:
            ckpt = resume_source(self.job.paths.resume_from)
        if ckpt:  # adapter weights go in before sharding/wrapping (meta ranks get them by broadcast); optimizer after
            self._load_adapter_weights(ckpt, check_only=meta_init)
        self.ddp = self.model
        if self.fsdp:
            self._shard()
        elif env.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[env.local_rank] if env.device.type == "cuda" else None)
        # FSDP2 swaps parameters for sharded DTensors in place, so collect them after wrapping.
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=s.learning_rate, weight_decay=0.0)
        warmup = int(s.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(s.scheduler, warmup, self.total_steps))
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self.step, self.epoch, self.micro_pos = 0, 0, 0
        if ckpt:
            self.resume(ckpt)
        log(f"train: {len(self.examples)} examples, {self.total_steps} steps ({self.steps_per_epoch}/epoch), "
            f"world {env.world}, device {env.device}, dtype {self.dtype}, packing {s.packing}, "
            f"base params {self.base_params}, trainable params {sum(p.numel() for p in self.params)}, "
            f"gradient checkpointing {'on' if self.gradient_checkpointing else 'off'}"
            f"{' (auto)' if s.gradient_checkpointing == 'auto' else ''}"
            f"{', fsdp (rank 0 loaded, others meta-initialised)' if self.fsdp else ''}")

    def _shard(self) -> None:
        """FSDP2: shard each decoder layer, then the root (frozen base and LoRA weights alike); then every rank's
        shards are filled from rank 0's weights.

        Why FSDP2 (`fully_shard` + `set_model_state_dict(broadcast_from_rank0=True)`) and not FSDP1's
        `sync_module_states` + `param_init_fn`: FSDP2 is what torch 2.11-2.13 develop (FSDP1 is deprecated there),
        it shards meta parameters as they are, and the broadcast sends one tensor at a time, so no rank ever holds
        more than its shards plus one full tensor on the GPU. It also keeps PEFT's parameter names (no
        `_fsdp_wrapped_module` prefixes), which the adapter save and resume paths rely on."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
        from torch.distributed.fsdp import fully_shard

        env = self.env
        # Rank 0's full weights, on CPU, taken before sharding replaces its parameters with shards.
        full = dict(self.model.state_dict()) if env.main else {}
        layer_types = set(getattr(self.model.get_base_model(), "_no_split_modules", None) or [])
        for mod in list(self.model.modules()):
            if type(mod).__name__ in layer_types:
                fully_shard(mod)
        fully_shard(self.model)
        set_model_state_dict(self.model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
        del full
        # Buffers are not sharded and non-persistent ones (rotary inv_freq) are in no state dict: the meta ranks
        # allocate theirs and take rank 0's values.
        for mod in self.model.modules():
            for name, buf in list(mod._buffers.items()):
                if buf is not None and buf.is_meta:
                    mod._buffers[name] = torch.empty_like(buf, device=env.device)
                elif buf is not None and buf.device != env.device:  # one fully_shard did not manage: nccl needs it on GPU
                    mod._buffers[name] = buf.to(env.device)
        for buf in self.model.buffers():
            tdist.broadcast(buf.data, src=0)
        # The meta ranks skipped the random LoRA init and so drew nothing from their generators: take rank 0's state,
        # so dropout draws are what a rank that initialised for real (DDP, or FSDP before meta init) would draw.
        states = [torch.get_rng_state(), torch.cuda.get_rng_state() if env.device.type == "cuda" else None]
        tdist.broadcast_object_list(states, src=0)
        torch.set_rng_state(states[0])
        if states[1] is not None:
            torch.cuda.set_rng_state(states[1])

    def _full_state(self) -> tuple:
        """(full model state dict, full optimizer state dict) on CPU; collective under FSDP."""
        if not self.fsdp:
            return None, self.optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                             get_optimizer_state_dict)

        opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return (get_model_state_dict(self.model, options=opts),
                get_optimizer_state_dict(self.model, self.optimizer, options=opts))

    def _save_adapter_files(self, directory: str, model_state) -> None:
        if model_state is None:
            self.model.save_pretrained(directory)
        else:  # PEFT extracts the adapter weights from the gathered full state dict
            self.model.save_pretrained(directory, state_dict=model_state)

    # -- checkpoints ------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        env = self.env
        final = os.path.join(self.ckpt_root, f"step-{self.step}")
        if os.path.isdir(final):
            return
        tmp = final + ".tmp"
        if env.main:
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
        env.barrier()
        torch.save(rng_state(), os.path.join(tmp, f"rng-{env.rank}.pt"))
        model_state, optim_state = self._full_state()
        env.barrier()
        if env.main:
            self._save_adapter_files(tmp, model_state)
            torch.save({"optimizer": optim_state, "scheduler": self.scheduler.state_dict(),
                        "scaler": self.scaler.state_dict() if self.scaler else None}, os.path.join(tmp, "optim.pt"))
            with open(os.path.join(tmp, "trainer_state.json"), "w") as f:
                json.dump({"step": self.step, "epoch": self.epoch, "microPos": self.micro_pos,
                           "world": env.world, "totalSteps": self.total_steps, "fingerprint": self.fingerprint()}, f)
            os.replace(tmp, final)  # atomic: a checkpoint either exists complete or not at all
            for old in sorted((int(n[5:]) for n in os.listdir(self.ckpt_root)
                               if n.startswith("step-") and n[5:].isdigit()))[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(os.path.join(self.ckpt_root, f"step-{old}"), ignore_errors=True)
            write_manifest(final, {"baseModel": self.job.paths.base_model, "step": self.step})
            digest, size = dir_digest(final)
            self.rep.artifact("checkpoint", final, digest, size)
            log(f"checkpoint saved: {final}")
        env.barrier()

    def fingerprint(self) -> dict:
        """What a checkpoint may only be resumed with: the same model, dataset and training spec."""
        if getattr(self, "_fingerprint", None) is None:
            base = self.job.paths.base_model
            spec = {_camel(k): v for k, v in dataclasses.asdict(self.spec).items() if k not in RESUME_FREE_FIELDS}
            spec["datasetFormat"] = self.job.dataset_format
            self._fingerprint = {
                "baseModel": base,
                "modelConfigSha256": sha256_file(os.path.join(base, "config.json")),
                "datasetSha256": sha256_file(D.split_path(self.job.paths.data_dir, "train")),
                "trainingSpec": json.loads(json.dumps(spec)),
            }
        return self._fingerprint

    def _check_resumable(self, ckpt: str, state: dict) -> None:
        if state["world"] != self.env.world:
            raise ConfigError(f"checkpoint {ckpt} was written with {state['world']} processes, now {self.env.world}")
        old, new = state.get("fingerprint"), self.fingerprint()
        if old is None:
            log(f"warning: checkpoint {ckpt} predates model/dataset/spec fingerprints; resuming without that check")
            return
        diffs = []
        if old["baseModel"] != new["baseModel"] or old["modelConfigSha256"] != new["modelConfigSha256"]:
            diffs.append(f"base model {old['baseModel']} (config sha256 {old['modelConfigSha256'][:12]}) -> "
                         f"{new['baseModel']} ({new['modelConfigSha256'][:12]})")
        if old["datasetSha256"] != new["datasetSha256"]:
            diffs.append(f"dataset digest (train.jsonl sha256) {old['datasetSha256'][:12]} -> {new['datasetSha256'][:12]}")
        for key in sorted(set(old["trainingSpec"]) | set(new["trainingSpec"])):
            a, b = old["trainingSpec"].get(key), new["trainingSpec"].get(key)
            if a != b:
                diffs.append(f"training.{key} {json.dumps(a)} -> {json.dumps(b)}")
        if diffs:
            raise ConfigError(f"refusing to resume from checkpoint {ckpt}: it was written for a different run ("
                              + "; ".join(diffs) + "); use a new output directory or restore the original settings")

    def _load_adapter_weights(self, ckpt: str, check_only: bool = False) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        with open(os.path.join(ckpt, "trainer_state.json")) as f:
            self._check_resumable(ckpt, json.load(f))
        if check_only:  # a meta-initialised FSDP rank: rank 0 broadcasts the adapter with the rest
            return
        set_peft_model_state_dict(self.model, load_file(os.path.join(ckpt, "adapter_model.safetensors")))

    def resume(self, ckpt: str) -> None:
        with open(os.path.join(ckpt, "trainer_state.json")) as f:
            st = json.load(f)
        opt = load_checkpoint_file(os.path.join(ckpt, "optim.pt"), "cpu" if self.fsdp else self.env.device)
        if self.fsdp:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(self.model, self.optimizer, opt["optimizer"],
                                     options=StateDictOptions(full_state_dict=True))
        else:
            self.optimizer.load_state_dict(opt["optimizer"])
        self.scheduler.load_state_dict(opt["scheduler"])
        if self.scaler and opt["scaler"]:
            self.scaler.load_state_dict(opt["scaler"])
        set_rng_state(load_checkpoint_file(os.path.join(ckpt, f"rng-{self.env.rank}.pt")))
        self.step, self.epoch, self.micro_pos = st["step"], st["epoch"], st["microPos"]
        self.resumed = {"checkpoint": ckpt, "step": self.step}
        if self.env.main:
            self.rep.resumed(ckpt, self.step)
        log(f"resumed from {ckpt} at step {self.step}")

    # -- loop -------------------------------------------------------------------------
    def _collate(self, idx: list) -> D.Batch:
        exs = [self.examples[i] for i in idx]
        if self.spec.packing:
            return D.collate_packed(exs, self.tok.pad_token_id, self.max_len)
        return D.collate_padded(exs, self.tok.pad_token_id, GPU_PAD_MULTIPLE if self.env.device.type == "cuda" else 1)

    def _epoch_batches(self, epoch: int) -> list:
        """Batch order is a pure function of (seed, epoch), so a resumed run sees the same batches."""
        if self._cached_epoch != epoch:
            self._batches = D.epoch_batches(self.lengths, self.spec.batch_size, self.spec.seed, epoch)
            self._cached_epoch = epoch
        return self._batches

    def _next_window(self) -> list:
        """The grad-accumulation window of micro-batches for this rank; advances the data position."""
        s, env = self.spec, self.env
        if self.micro_pos + s.gradient_accumulation > self.micro_per_epoch:
            self.epoch, self.micro_pos = self.epoch + 1, 0
        batches = self._epoch_batches(self.epoch)
        start = self.micro_pos
        self.micro_pos += s.gradient_accumulation
        return [self._collate(batches[(start + i) * env.world + env.rank]) for i in range(s.gradient_accumulation)]

    def train_step(self, window: list) -> tuple:
        env = self.env
        counts = [int((b.labels[:, 1:] != D.IGNORE_INDEX).sum()) for b in window]
        global_tokens = env.sum(float(sum(counts)))[0]
        # DDP averages gradients over ranks, so scale by world / global tokens -> exact token mean.
        scale = env.world / max(1.0, global_tokens)
        # Summed on the device, read once per step: each float() of a CUDA tensor waits for the GPU to catch up.
        loss_sum = torch.zeros((), device=env.device)
        autocast = torch.autocast(env.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
        for i, batch in enumerate(window):
            sync = i == len(window) - 1 or env.world == 1
            if self.fsdp:
                self.model.set_requires_gradient_sync(sync)
                ctx = contextlib.nullcontext()
            else:
                ctx = self.ddp.no_sync() if not sync else contextlib.nullcontext()
            with ctx:
                with autocast:
                    loss, _ = token_loss_sum(self.ddp, batch, env.device)
                scaled = loss * scale
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            loss_sum += loss.detach().float()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, GRAD_CLIP)
        # Left on the device: read only when it is logged (see run).
        grad_norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        total_loss, real = env.sum(float(loss_sum), float(sum(b.real_tokens for b in window)))
        return total_loss / max(1.0, global_tokens), grad_norm, real

    def _stop_agreed(self) -> bool:
        return self.env.sum(1.0 if self.stop_requested else 0.0)[0] > 0

    def run(self) -> dict:
        s, env = self.spec, self.env
        self.ddp.train()
        t0 = time.monotonic()
        start_step = self.step
        win_loss, win_n, win_tokens, win_t = 0.0, 0, 0.0, time.monotonic()
        last_loss = float("nan")
        self.rep.progress("train", self.step, self.total_steps, None)
        while self.step < self.total_steps:
            if self._stop_agreed():
                self.save_checkpoint()
                raise Preempted(f"stopped by SIGTERM at step {self.step}; checkpoint saved, rerun to resume")
            loss, grad_norm, real = self.train_step(self._next_window())
            self.step += 1
            win_loss, win_n, win_tokens = win_loss + loss, win_n + 1, win_tokens + real
            if self.step % s.log_every_steps == 0 or self.step == self.total_steps:
                grad_norm = float(grad_norm)
                now = time.monotonic()
                last_loss = win_loss / win_n
                epoch_f = self.epoch + self.micro_pos / self.micro_per_epoch
                self.rep.metrics([point("train/loss", self.step, last_loss),
                                  point("train/learning_rate", self.step, self.scheduler.get_last_lr()[0]),
                                  point("train/grad_norm", self.step, grad_norm),
                                  point("train/tokens_per_second", self.step, win_tokens / max(1e-9, now - win_t)),
                                  point("train/epoch", self.step, epoch_f)])
                rate = (now - t0) / max(1, self.step - start_step)
                self.rep.progress("train", self.step, self.total_steps, rate * (self.total_steps - self.step))
                log(f"step {self.step}/{self.total_steps} loss {last_loss:.4f} lr {self.scheduler.get_last_lr()[0]:.2e} "
                    f"grad_norm {grad_norm:.3f} tok/s {win_tokens / max(1e-9, now - win_t):.0f}")
                win_loss, win_n, win_tokens, win_t = 0.0, 0, 0.0, now
            if self.step % s.checkpoint_every_steps == 0 and self.step < self.total_steps:
                self.save_checkpoint()
        return {"finalLoss": last_loss, "steps": self.step, "seconds": time.monotonic() - t0}

    def validation_loss(self):
        path = D.split_path(self.job.paths.data_dir, "validation")
        if not os.path.isfile(path):
            return None
        rows = D.load_split(self.job.paths.data_dir, "validation", self.job.dataset_format)[:256]
        exs = D.tokenize_dataset(self.tok, self.fmt, rows, self.max_len, path)
        self.model.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(exs), self.spec.batch_size):
                loss, cnt = token_loss_sum(self.model, D.collate_padded(exs[s:s + self.spec.batch_size],
                                                                        self.tok.pad_token_id), self.env.device)
                total, n = total + float(loss), n + cnt
        return total / max(1, n)

    def save_adapter(self) -> str:
        """Called on every rank (the FSDP gather is collective); rank 0 writes."""
        model_state, _ = self._full_state()
        adapter = os.path.join(self.out_dir, "adapter")
        if not self.env.main:
            return adapter
        shutil.rmtree(adapter, ignore_errors=True)
        self._save_adapter_files(adapter, model_state)
        self.tok.save_pretrained(adapter)
        with open(os.path.join(adapter, D.ADAPTER_META), "w", encoding="utf-8") as f:
            # serve renders chat requests to this adapter with the template it was trained with
            json.dump({"promptTemplate": self.fmt.mode}, f)
        write_manifest(adapter, {"baseModel": self.job.paths.base_model,
                                 "createdAt": datetime.now(timezone.utc).isoformat()})
        digest, size = dir_digest(adapter)
        self.rep.artifact("adapter", adapter, digest, size)
        return adapter


def run_train(job: Job, reporter: Reporter) -> dict:
    tr = Trainer(job, reporter)
    previous = signal.signal(signal.SIGTERM, lambda *_: setattr(tr, "stop_requested", True))
    try:
        os.makedirs(tr.out_dir, exist_ok=True)
        with tracing.span("load model"):
            tr.setup()
        with tracing.span("train loop", **{"loraplane.total_steps": tr.total_steps, "loraplane.start_step": tr.step}):
            stats = tr.run()
        result = {"stage": "train", "finalLoss": stats["finalLoss"], "steps": stats["steps"]}
        if tr.resumed:
            result["resumedFrom"], result["resumedFromStep"] = tr.resumed["checkpoint"], tr.resumed["step"]
        val = tr.validation_loss()  # every rank: a sharded model's forward is collective
        if val is not None:
            reporter.metrics([point("val/loss", tr.step, val)])
            result["valLoss"] = val
        with tracing.span("save adapter"):
            result["adapterDir"] = tr.save_adapter()
        tr.env.barrier()
        reporter.progress("train", tr.step, tr.total_steps, 0.0)
        return result
    finally:
        signal.signal(signal.SIGTERM, previous)
        tr.env.close()
