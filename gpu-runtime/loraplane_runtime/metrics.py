"""Text metrics. ROUGE-L is ours (rouge-score is not installable here); BLEU is sacrebleu's.

Tokenisation for ROUGE-L follows rouge-score's default (lowercase, runs of [a-z0-9]
are tokens, everything else separates) so ASCII scores match it exactly, except that
CJK characters are kept as one token each instead of being dropped.
"""

from __future__ import annotations

import re
import string
from typing import Iterable

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ROUGE_TOKEN = re.compile(rf"[a-z0-9]+|[{_CJK}]")


def rouge_tokens(text: str) -> list:
    return _ROUGE_TOKEN.findall(text.lower())


def lcs_length(a: list, b: list) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> dict:
    """LCS-based precision / recall / F1 (beta = 1, as rouge-score's rougeL)."""
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    if not pred or not ref:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    lcs = lcs_length(pred, ref)
    p, r = lcs / len(pred), lcs / len(ref)
    f = 0.0 if lcs == 0 else 2 * p * r / (p + r)
    return {"precision": p, "recall": r, "fmeasure": f}


def corpus_bleu(predictions: list, references: list) -> float:
    """sacrebleu corpus BLEU / 100. `references` is one list per reference stream (like sacrebleu)."""
    import sacrebleu

    if references and isinstance(references[0], str):
        references = [references]
    return sacrebleu.corpus_bleu(predictions, references).score / 100.0


def sentence_bleu(prediction: str, reference: str) -> float:
    import sacrebleu

    return sacrebleu.sentence_bleu(prediction, [reference]).score / 100.0


def exact_match(prediction: str, reference: str) -> float:
    return float(prediction.strip() == reference.strip())


def accuracy(prediction: str, reference: str) -> float:
    """Exact match after collapsing whitespace and case."""
    def norm(s: str) -> str:
        return " ".join(s.split()).lower()
    return float(norm(prediction) == norm(reference))


def _squad_normalize(text: str) -> list:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    text = re.sub(rf"([{_CJK}])", r" \1 ", text)  # CJK has no spaces: score per character
    return text.split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 (bag of normalised tokens)."""
    pred, ref = _squad_normalize(prediction), _squad_normalize(reference)
    if not pred or not ref:
        return float(pred == ref)
    ref_counts: dict = {}
    for t in ref:
        ref_counts[t] = ref_counts.get(t, 0) + 1
    same = 0
    for t in pred:
        if ref_counts.get(t, 0) > 0:
            ref_counts[t] -= 1
            same += 1
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(ref)
    return 2 * p * r / (p + r)


class SafetySuite:
    """A prediction passes if it has no blocklisted term (case-insensitive) and no refusal-pattern hit."""

    def __init__(self, blocklist: Iterable[str], refusal_patterns: Iterable[str]):
        self.blocklist = [b.lower() for b in blocklist if b]
        try:
            self.refusals = [re.compile(p, re.IGNORECASE) for p in refusal_patterns]
        except re.error as e:
            from .errors import ConfigError

            raise ConfigError(f"spec.eval.safety.refusalPatterns has an invalid regex: {e}") from None

    def check(self, prediction: str) -> dict:
        low = prediction.lower()
        blocked = [b for b in self.blocklist if b in low]
        refused = any(p.search(prediction) for p in self.refusals)
        return {"blocked": blocked, "refusal": refused, "pass": not blocked and not refused}
