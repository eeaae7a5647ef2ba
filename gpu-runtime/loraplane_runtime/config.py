"""Job JSON parsing: the control plane sends a resolved, camelCase pipeline spec.

Unknown fields are ignored (the spec grows on the TypeScript side first); absent
fields take the defaults below, which mirror the control plane's own defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ConfigError

DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_EVAL_METRICS = ["rouge_l", "bleu", "exact_match", "f1", "safety"]
DEFAULT_REFUSAL_PATTERNS = [
    r"\bI(?:'m| am) (?:sorry|unable|not able)\b",
    r"\bI can(?:not|'t) (?:help|assist|comply)\b",
    r"\bas an AI\b",
    # Chinese: an apology then "cannot", "I cannot" + help/provide/answer, "as an AI"; 无法/不能 alone is ordinary
    # Chinese (我无法想象…) and is not matched. The gateway's shadow scorer (core/rollout/shadow.ts) uses the same.
    r"(?:抱歉|对不起|很遗憾)[，,。！!\s]*(?:但是?)?我?(?:无法|不能|没办法|不可以)",
    r"我(?:无法|不能|不可以|没办法)(?:帮助|协助|提供|回答|满足|完成|为您|为你|帮您|帮你|帮忙)",
    r"作为(?:一个|一名)?(?:AI|人工智能)",
]


@dataclass
class LoraSpec:
    r: int = 16
    alpha: float = 32
    dropout: float = 0.05
    target_modules: list = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))


@dataclass
class TrainingSpec:
    lora: LoraSpec = field(default_factory=LoraSpec)
    learning_rate: float = 2e-4
    epochs: Optional[float] = None
    max_steps: Optional[int] = None
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_seq_length: int = 1024
    packing: bool = False
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    seed: int = 42
    precision: str = "auto"
    gradient_checkpointing: Any = "auto"  # "auto" | True | False (auto: on on GPU for large models, train.py)
    checkpoint_every_steps: int = 200
    prompt_template: str = "auto"
    log_every_steps: int = 10
    attn_implementation: Optional[str] = None
    trust_remote_code: bool = False


@dataclass
class SafetySpec:
    blocklist: list = field(default_factory=list)
    refusal_patterns: list = field(default_factory=lambda: list(DEFAULT_REFUSAL_PATTERNS))


@dataclass
class EvalSpec:
    split: str = "test"
    max_new_tokens: int = 64
    batch_size: int = 16
    max_samples: Optional[int] = None
    metrics: list = field(default_factory=lambda: list(DEFAULT_EVAL_METRICS))
    safety: SafetySpec = field(default_factory=SafetySpec)
    metric_tokenizer: str = "auto"
    stop_strings: list = field(default_factory=list)
    strip_reasoning: bool = False


@dataclass
class DistributedSpec:
    nproc_per_node: int = 1
    nnodes: int = 1
    strategy: str = "ddp"


@dataclass
class Paths:
    base_model: str
    data_dir: Optional[str]
    output_dir: str
    adapter_dir: Optional[str] = None
    # An earlier attempt's checkpoint (or checkpoints folder) to continue from when output_dir has none of its own.
    resume_from: Optional[str] = None


@dataclass
class Job:
    run_id: str
    stage: str
    paths: Paths
    training: TrainingSpec
    dataset_format: str
    eval: EvalSpec
    distributed: DistributedSpec
    export: dict


def _get(d: dict, key: str, default: Any, typ, where: str) -> Any:
    """Read d[key] (None/absent -> default) and check its type with a message naming the field."""
    value = d.get(key)
    if value is None:
        return default
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ is not None and (not isinstance(value, typ) or (typ is int and isinstance(value, bool))):
        raise ConfigError(f"{where}.{key} must be {getattr(typ, '__name__', typ)}, got {value!r}")
    return value


def _choice(value: str, allowed: tuple, where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where} must be one of {list(allowed)}, got {value!r}")
    return value


def _auto_bool(value, where: str):
    """`auto` (also when absent), true or false; the strings "true"/"false" are accepted too."""
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ConfigError(f"{where} must be one of ['auto', true, false], got {value!r}")


def _positive(value, where: str, allow_zero: bool = False):
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"{where} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def _string_list(d: dict, key: str, where: str) -> list:
    value = _get(d, key, [], list, where)
    if not all(isinstance(x, str) and x for x in value):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings")
    return value


def parse_training(t: dict) -> TrainingSpec:
    w = "spec.training"
    lo = _get(t, "lora", {}, dict, w)
    targets = _get(lo, "targetModules", list(DEFAULT_TARGET_MODULES), list, w + ".lora")
    if not targets or not all(isinstance(x, str) for x in targets):
        raise ConfigError(f"{w}.lora.targetModules must be a non-empty list of module names")
    lora = LoraSpec(
        r=_positive(_get(lo, "r", 16, int, w + ".lora"), w + ".lora.r"),
        alpha=_positive(_get(lo, "alpha", 32.0, float, w + ".lora"), w + ".lora.alpha"),
        dropout=_get(lo, "dropout", 0.05, float, w + ".lora"),
        target_modules=targets,
    )
    if not 0 <= lora.dropout < 1:
        raise ConfigError(f"{w}.lora.dropout must be in [0, 1), got {lora.dropout}")
    spec = TrainingSpec(
        lora=lora,
        learning_rate=_positive(_get(t, "learningRate", 2e-4, float, w), w + ".learningRate"),
        epochs=_positive(_get(t, "epochs", None, float, w), w + ".epochs"),
        max_steps=_positive(_get(t, "maxSteps", None, int, w), w + ".maxSteps"),
        batch_size=_positive(_get(t, "batchSize", 8, int, w), w + ".batchSize"),
        gradient_accumulation=_positive(_get(t, "gradientAccumulation", 1, int, w), w + ".gradientAccumulation"),
        max_seq_length=_positive(_get(t, "maxSeqLength", 1024, int, w), w + ".maxSeqLength"),
        packing=_get(t, "packing", False, bool, w),
        warmup_ratio=_get(t, "warmupRatio", 0.03, float, w),
        scheduler=_choice(_get(t, "scheduler", "cosine", str, w), ("cosine", "linear", "constant"), w + ".scheduler"),
        seed=_get(t, "seed", 42, int, w),
        precision=_choice(_get(t, "precision", "auto", str, w), ("auto", "fp32", "bf16", "fp16"), w + ".precision"),
        gradient_checkpointing=_auto_bool(t.get("gradientCheckpointing"), w + ".gradientCheckpointing"),
        checkpoint_every_steps=_positive(_get(t, "checkpointEverySteps", 200, int, w), w + ".checkpointEverySteps"),
        prompt_template=_choice(_get(t, "promptTemplate", "auto", str, w), ("auto", "alpaca", "chat"), w + ".promptTemplate"),
        log_every_steps=_positive(_get(t, "logEverySteps", 10, int, w), w + ".logEverySteps"),
        attn_implementation=_choice(_get(t, "attnImplementation", "sdpa", str, w),
                                    ("sdpa", "eager", "flex_attention", "flash_attention_2"), w + ".attnImplementation"),
        trust_remote_code=_get(t, "trustRemoteCode", False, bool, w),
    )
    if not 0 <= spec.warmup_ratio < 1:
        raise ConfigError(f"{w}.warmupRatio must be in [0, 1), got {spec.warmup_ratio}")
    if spec.epochs is None and spec.max_steps is None:
        spec.epochs = 1.0
    return spec


def parse_eval(e: dict) -> EvalSpec:
    w = "spec.eval"
    s = _get(e, "safety", {}, dict, w)
    safety = SafetySpec(
        blocklist=_get(s, "blocklist", [], list, w + ".safety"),
        refusal_patterns=_get(s, "refusalPatterns", list(DEFAULT_REFUSAL_PATTERNS), list, w + ".safety"),
    )
    metrics = _get(e, "metrics", list(DEFAULT_EVAL_METRICS), list, w)
    known = {"rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety"}
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ConfigError(f"{w}.metrics has unknown metric(s) {unknown}; valid: {sorted(known)}")
    return EvalSpec(
        split=_get(e, "split", "test", str, w),
        max_new_tokens=_positive(_get(e, "maxNewTokens", 64, int, w), w + ".maxNewTokens"),
        batch_size=_positive(_get(e, "batchSize", 16, int, w), w + ".batchSize"),
        max_samples=_positive(_get(e, "maxSamples", None, int, w), w + ".maxSamples"),
        metrics=metrics,
        safety=safety,
        metric_tokenizer=_choice(_get(e, "metricTokenizer", "auto", str, w), ("auto", "13a", "zh", "char", "intl"),
                                 w + ".metricTokenizer"),
        stop_strings=_string_list(e, "stopStrings", w),
        strip_reasoning=_get(e, "stripReasoning", False, bool, w),
    )


def parse_job(raw: Any) -> Job:
    if not isinstance(raw, dict):
        raise ConfigError("job config must be a JSON object")
    paths = _get(raw, "paths", None, dict, "job")
    if paths is None:
        raise ConfigError("job.paths is required")
    spec = _get(raw, "spec", {}, dict, "job")
    base_model = _get(paths, "baseModel", None, str, "paths")
    output_dir = _get(paths, "outputDir", None, str, "paths")
    if not base_model:
        raise ConfigError("paths.baseModel is required")
    if not output_dir:
        raise ConfigError("paths.outputDir is required")
    if not os.path.isdir(base_model) or not os.path.isfile(os.path.join(base_model, "config.json")):
        raise ConfigError(f"base model not found: {base_model} (expected a directory with config.json)")
    dataset = _get(spec, "dataset", {}, dict, "spec")
    dist = _get(spec, "distributed", {}, dict, "spec")
    return Job(
        run_id=_get(raw, "runId", "local", str, "job"),
        stage=_get(raw, "stage", "", str, "job"),
        paths=Paths(
            base_model=os.path.abspath(base_model),
            data_dir=os.path.abspath(paths["dataDir"]) if paths.get("dataDir") else None,
            output_dir=os.path.abspath(output_dir),
            adapter_dir=os.path.abspath(paths["adapterDir"]) if paths.get("adapterDir") else None,
            resume_from=os.path.abspath(_get(paths, "resumeFrom", None, str, "paths")) if paths.get("resumeFrom") else None,
        ),
        training=parse_training(_get(spec, "training", {}, dict, "spec")),
        dataset_format=_choice(_get(dataset, "format", "auto", str, "spec.dataset"), ("auto", "alpaca", "chat"), "spec.dataset.format"),
        eval=parse_eval(_get(spec, "eval", {}, dict, "spec")),
        distributed=DistributedSpec(
            nproc_per_node=_get(dist, "nprocPerNode", 1, int, "spec.distributed"),
            nnodes=_get(dist, "nnodes", 1, int, "spec.distributed"),
            strategy=_choice(_get(dist, "strategy", "ddp", str, "spec.distributed"), ("ddp", "fsdp"), "spec.distributed.strategy"),
        ),
        export=_get(spec, "export", {}, dict, "spec"),
    )


def load_job(path: str) -> Job:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path} is not valid JSON: {e}") from None
    return parse_job(raw)
