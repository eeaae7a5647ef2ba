"""Batched greedy generation on a split, scored per sample and over the corpus.

Decoding is explicit: greedy (no sampling, one beam, no repetition penalty or n-gram blocking) whatever the
model's generation_config says, stopping at every EOS id the model declares and at the spec's stop strings;
optionally `<think>...</think>` reasoning is stripped before scoring. What was used is recorded in the report.
"""

from __future__ import annotations

import json
import os
import re
import time

import torch

from . import data as D
from . import metrics as M
from . import tracing
from .config import Job
from .errors import ConfigError
from .modeling import load_base_model, load_tokenizer, pick_dtype, sha256_file
from .reporting import Reporter, log, point


def load_for_inference(base: str, adapter: str | None, device: torch.device, precision: str = "auto",
                       attn: str | None = None, trust_remote_code: bool = False):
    model = load_base_model(base, pick_dtype(precision, device), attn, trust_remote_code=trust_remote_code)
    if adapter:
        from peft import PeftModel

        if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
            raise ConfigError(f"adapter not found: {adapter} (expected adapter_config.json)")
        model = PeftModel.from_pretrained(model, adapter)
    return model.to(device).eval()


def greedy_config(model, tok, max_new_tokens: int):
    """A fresh GenerationConfig: nothing is inherited from the model's generation_config except its EOS ids."""
    from transformers import GenerationConfig

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    eos = D.eos_token_ids(tok, getattr(base, "generation_config", None))
    return GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, repetition_penalty=1.0,
                            no_repeat_ngram_size=0, temperature=None, top_p=None, top_k=None,
                            eos_token_id=eos, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)


class _StopOnStrings:
    """Per-row stopping criterion: a row is done once its generated text contains a stop string."""

    def __init__(self, tok, prompt_len: int, stops: list):
        self.tok, self.prompt_len, self.stops = tok, prompt_len, stops

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tok.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def postprocess(text: str, stop_strings: list, strip_reasoning: bool) -> str:
    """Cut at the first stop string (where generation stopped), then optionally drop <think>...</think>
    reasoning, then strip whitespace."""
    cut = [i for i in (text.find(s) for s in stop_strings if s) if i >= 0]
    if cut:
        text = text[:min(cut)]
    if strip_reasoning:
        if "</think>" in text and "<think>" not in text.split("</think>")[0]:
            text = text.split("</think>")[-1]  # the template opened <think> inside the prompt
        text = _THINK.sub("", text)
        if "<think>" in text:  # unterminated reasoning: no answer was given
            text = text[:text.index("<think>")]
    return text.strip()


@torch.no_grad()
def generate(model, tok, prompts: list, max_new_tokens: int, batch_size: int, device, raw: bool = True,
             stop_strings: list | None = None, strip_reasoning: bool = False) -> list:
    """Greedy decode; left padding so every prompt ends at the same position in a batch."""
    from transformers import StoppingCriteriaList

    stop_strings = [s for s in (stop_strings or []) if s]
    cfg = greedy_config(model, tok, max_new_tokens)
    holder = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = holder.generation_config
    holder.generation_config = cfg  # generate() fills unset fields from the model's config: give it ours
    pad = tok.pad_token_id
    outs = []
    try:
        for s in range(0, len(prompts), batch_size):
            encoded = [D.encode_prompt(tok, p, raw) for p in prompts[s:s + batch_size]]
            width = max(len(e) for e in encoded)
            ids = torch.full((len(encoded), width), pad, dtype=torch.long)
            mask = torch.zeros((len(encoded), width), dtype=torch.long)
            for r, e in enumerate(encoded):
                ids[r, width - len(e):] = torch.tensor(e)
                mask[r, width - len(e):] = 1
            crit = StoppingCriteriaList([_StopOnStrings(tok, width, stop_strings)]) if stop_strings else None
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=cfg,
                                 stopping_criteria=crit)
            eos = set(cfg.eos_token_id)
            for row in gen[:, width:].tolist():
                end = next((i for i, t in enumerate(row) if t in eos), len(row))  # the EOS itself is not output
                outs.append(postprocess(tok.decode(row[:end], skip_special_tokens=True), stop_strings, strip_reasoning))
    finally:
        holder.generation_config = saved
    return outs


def score(predictions: list, references: list, wanted: list, safety: M.SafetySuite, tokenizer: str = "auto") -> tuple:
    """(corpus metrics, per-sample scores). `tokenizer` = auto | 13a | zh | char | intl (auto: from the references)."""
    tk = M.resolve_tokenizer(tokenizer, references)
    per = []
    for p, r in zip(predictions, references):
        sc = {}
        if "rouge_l" in wanted:
            sc["rouge_l"] = M.rouge_l(p, r, tk)["fmeasure"]
        if "bleu" in wanted:
            sc["bleu"] = M.sentence_bleu(p, r, tk)
        if "exact_match" in wanted or "accuracy" in wanted:
            sc["exact_match"] = M.exact_match(p, r)
            sc["accuracy"] = M.accuracy(p, r)
        if "f1" in wanted:
            sc["f1"] = M.token_f1(p, r, tk)
        if "safety" in wanted:
            chk = safety.check(p)
            sc["safety_pass"] = float(chk["pass"])
            sc["refusal"] = float(chk["refusal"])
        per.append(sc)

    def mean(key):
        return sum(s[key] for s in per) / len(per)

    agg = {}
    for key in ("rouge_l", "exact_match", "accuracy", "f1"):
        if per and key in per[0]:
            agg[key] = mean(key)
    if "bleu" in wanted:
        agg["bleu"] = M.corpus_bleu(predictions, references, tk)  # corpus BLEU, not a mean of sentence BLEU
    if "safety" in wanted:
        agg["safety_pass_rate"] = mean("safety_pass")
        agg["refusal_rate"] = mean("refusal")
    return agg, per


def metrics_by_task(rows: list, predictions: list, references: list, wanted: list, safety: M.SafetySuite,
                    tokenizer: str) -> dict:
    """Corpus metrics per value of the rows' optional `task` field (the demo data has one), scored with the
    corpus-wide metric tokenizer so the numbers compare across tasks; {} when no row names a task."""
    groups: dict = {}
    for i, r in enumerate(rows):
        if r.get("task") is not None:
            groups.setdefault(str(r["task"]), []).append(i)
    return {t: {"numSamples": len(idx), **score([predictions[i] for i in idx], [references[i] for i in idx],
                                                wanted, safety, tokenizer)[0]}
            for t, idx in sorted(groups.items())}


def run_evaluate(job: Job, reporter: Reporter) -> dict:
    ev, paths, tr = job.eval, job.paths, job.training
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(tr.seed)
    safety = M.SafetySuite(ev.safety.blocklist, ev.safety.refusal_patterns)
    rows = D.load_split(paths.data_dir, ev.split, job.dataset_format)
    if ev.max_samples:
        rows = rows[:ev.max_samples]
    with tracing.span("load model", **{"loraplane.adapter": bool(paths.adapter_dir)}):
        tok = load_tokenizer(paths.base_model, trust_remote_code=tr.trust_remote_code)
        fmt = D.PromptFormatter(tok, tr.prompt_template)
        model = load_for_inference(paths.base_model, paths.adapter_dir, device, tr.precision, tr.attn_implementation,
                                   tr.trust_remote_code)
    prompts = [fmt.prompt(r) for r in rows]
    refs = [D.reference_of(r) for r in rows]
    metric_tokenizer = M.resolve_tokenizer(ev.metric_tokenizer, refs)
    cfg = greedy_config(model, tok, ev.max_new_tokens)
    decoding = {"strategy": "greedy", "maxNewTokens": ev.max_new_tokens, "eosTokenIds": list(cfg.eos_token_id),
                "stopStrings": ev.stop_strings, "stripReasoning": ev.strip_reasoning, "repetitionPenalty": 1.0,
                "batchSize": ev.batch_size, "padding": "left", "promptTemplate": fmt.mode,
                "specialPrefixIds": D.special_prefix(tok) if fmt.mode == "alpaca" else []}
    log(f"evaluate: {len(rows)} samples from {ev.split}, adapter={paths.adapter_dir or 'none'}, device {device}, "
        f"decoding {decoding}, metric tokenizer {metric_tokenizer}")
    t0 = time.monotonic()
    preds = []
    with tracing.span("generate", **{"loraplane.samples": len(prompts)}):
        for s in range(0, len(prompts), ev.batch_size):
            preds += generate(model, tok, prompts[s:s + ev.batch_size], ev.max_new_tokens, ev.batch_size, device,
                              raw=fmt.mode == "alpaca", stop_strings=ev.stop_strings, strip_reasoning=ev.strip_reasoning)
            done = len(preds)
            rate = (time.monotonic() - t0) / done
            reporter.progress("eval", done, len(prompts), rate * (len(prompts) - done))
    with tracing.span("score"):
        agg, per = score(preds, refs, ev.metrics, safety, metric_tokenizer)
        by_task = metrics_by_task(rows, preds, refs, ev.metrics, safety, metric_tokenizer)

    os.makedirs(paths.output_dir, exist_ok=True)
    samples = [{"id": str(r.get("id", f"{ev.split}-{i}")), "prompt": p, "reference": ref, "prediction": pred, "scores": sc,
                **({"task": str(r["task"])} if r.get("task") is not None else {})}
               for i, (r, p, ref, pred, sc) in enumerate(zip(rows, prompts, refs, preds, per))]
    report = {"metrics": agg, "metricsByTask": by_task, "samples": samples, "numSamples": len(samples),
              "model": paths.base_model, "adapter": paths.adapter_dir, "split": ev.split,
              "generationSeconds": time.monotonic() - t0, "decoding": decoding, "metricTokenizer": metric_tokenizer}
    report_path = os.path.join(paths.output_dir, "eval_report.json")
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    with open(os.path.join(paths.output_dir, "samples.jsonl"), "w", encoding="utf-8") as f:
        for smp in samples:
            f.write(json.dumps(smp, ensure_ascii=False) + "\n")
    reporter.metrics([point(f"eval/{k}", 0, v) for k, v in agg.items()])
    reporter.artifact("eval_report", report_path, sha256_file(report_path), os.path.getsize(report_path))
    log("evaluate: " + ", ".join(f"{k}={v:.4f}" for k, v in agg.items()))
    return {"stage": "eval", "metrics": agg, "report": report_path}
