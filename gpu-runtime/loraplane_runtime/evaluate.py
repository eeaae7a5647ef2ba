"""Batched greedy generation on a split, scored per sample and over the corpus."""

from __future__ import annotations

import json
import os
import time

import torch

from . import data as D
from . import metrics as M
from .config import Job
from .errors import ConfigError
from .modeling import load_base_model, load_tokenizer, pick_dtype, sha256_file
from .reporting import Reporter, log, point


def load_for_inference(base: str, adapter: str | None, device: torch.device, precision: str = "auto"):
    model = load_base_model(base, pick_dtype(precision, device))
    if adapter:
        from peft import PeftModel

        if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
            raise ConfigError(f"adapter not found: {adapter} (expected adapter_config.json)")
        model = PeftModel.from_pretrained(model, adapter)
    return model.to(device).eval()


@torch.no_grad()
def generate(model, tok, prompts: list, max_new_tokens: int, batch_size: int, device) -> list:
    """Greedy decode; left padding so every prompt ends at the same position in a batch."""
    tok.padding_side = "left"
    outs = []
    for s in range(0, len(prompts), batch_size):
        enc = tok(prompts[s:s + batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        outs += [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
    return outs


def score(predictions: list, references: list, wanted: list, safety: M.SafetySuite) -> tuple:
    """(corpus metrics, per-sample scores)."""
    per = []
    for p, r in zip(predictions, references):
        sc = {}
        if "rouge_l" in wanted:
            sc["rouge_l"] = M.rouge_l(p, r)["fmeasure"]
        if "bleu" in wanted:
            sc["bleu"] = M.sentence_bleu(p, r)
        if "exact_match" in wanted or "accuracy" in wanted:
            sc["exact_match"] = M.exact_match(p, r)
            sc["accuracy"] = M.accuracy(p, r)
        if "f1" in wanted:
            sc["f1"] = M.token_f1(p, r)
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
        agg["bleu"] = M.corpus_bleu(predictions, references)  # corpus BLEU, not a mean of sentence BLEU
    if "safety" in wanted:
        agg["safety_pass_rate"] = mean("safety_pass")
        agg["refusal_rate"] = mean("refusal")
    return agg, per


def run_evaluate(job: Job, reporter: Reporter) -> dict:
    ev, paths = job.eval, job.paths
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(job.training.seed)
    safety = M.SafetySuite(ev.safety.blocklist, ev.safety.refusal_patterns)
    rows = D.load_split(paths.data_dir, ev.split, job.dataset_format)
    if ev.max_samples:
        rows = rows[:ev.max_samples]
    tok = load_tokenizer(paths.base_model)
    fmt = D.PromptFormatter(tok, job.training.prompt_template)
    model = load_for_inference(paths.base_model, paths.adapter_dir, device, job.training.precision)
    prompts = [fmt.prompt(r) for r in rows]
    refs = [D.reference_of(r) for r in rows]
    log(f"evaluate: {len(rows)} samples from {ev.split}, adapter={paths.adapter_dir or 'none'}, device {device}")
    t0 = time.monotonic()
    preds = []
    for s in range(0, len(prompts), ev.batch_size):
        preds += generate(model, tok, prompts[s:s + ev.batch_size], ev.max_new_tokens, ev.batch_size, device)
        done = len(preds)
        rate = (time.monotonic() - t0) / done
        reporter.progress("eval", done, len(prompts), rate * (len(prompts) - done))
    agg, per = score(preds, refs, ev.metrics, safety)

    os.makedirs(paths.output_dir, exist_ok=True)
    samples = [{"id": str(r.get("id", f"{ev.split}-{i}")), "prompt": p, "reference": ref, "prediction": pred, "scores": sc}
               for i, (r, p, ref, pred, sc) in enumerate(zip(rows, prompts, refs, preds, per))]
    report = {"metrics": agg, "samples": samples, "numSamples": len(samples),
              "model": paths.base_model, "adapter": paths.adapter_dir, "split": ev.split,
              "generationSeconds": time.monotonic() - t0}
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
