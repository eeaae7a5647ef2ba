"""Text metrics, language-aware. ROUGE-L is ours (rouge-score is not installable here); BLEU is sacrebleu's.

One metric tokenizer is chosen per corpus (`auto` looks at the references, or the spec sets it):

* `13a` - sacrebleu's default (word-level, for languages written with spaces);
* `zh`  - sacrebleu's Chinese tokenizer: every Han character is a token, the rest as 13a;
* `char` - every character is a token (Japanese and Korean: sacrebleu's ja-mecab/ko-mecab are not available here);
* `intl` - sacrebleu's international tokenizer (Unicode punctuation and symbols split off).

ROUGE-L and token F1 tokenise with the same choice: text is NFKC-normalised (full-width letters become ASCII)
and lowercased; in `char` mode every letter/digit is a token, otherwise Han and kana characters are one token
each and runs of other letters, marks and digits (any script: Latin, Hangul, Cyrillic, ...) are words. On ASCII
text this is exactly rouge-score's default tokenisation, so its documented values still hold.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Iterable

METRIC_TOKENIZERS = ("13a", "zh", "char", "intl")


def _is_han(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F


def _is_kana(c: str) -> bool:
    o = ord(c)
    return 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F


def _is_hangul(c: str) -> bool:
    o = ord(c)
    return 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _is_word_char(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM"


def detect_tokenizer(texts: Iterable[str]) -> str:
    """Pick the metric tokenizer for a corpus from its references.

    Japanese (kana) or Korean (Hangul) making up >= 20 % of the letters -> `char`; any Chinese (Han,
    >= 1 % of the letters) -> `zh` (which handles mixed Chinese/English text); otherwise `13a`."""
    letters = han = kana = hangul = 0
    for t in texts:
        for c in unicodedata.normalize("NFKC", t):
            if not _is_word_char(c):
                continue
            letters += 1
            han += _is_han(c)
            kana += _is_kana(c)
            hangul += _is_hangul(c)
    if not letters:
        return "13a"
    if (kana + hangul) / letters >= 0.2:
        return "char"
    if (han + kana) / letters >= 0.01:
        return "zh"
    return "13a"


def resolve_tokenizer(choice: str, references: Iterable[str]) -> str:
    if choice in (None, "", "auto"):
        return detect_tokenizer(references)
    if choice not in METRIC_TOKENIZERS:
        raise ValueError(f"unknown metric tokenizer {choice!r}; valid: auto, {', '.join(METRIC_TOKENIZERS)}")
    return choice


def metric_tokens(text: str, tokenizer: str = "13a") -> list:
    """Tokens for ROUGE-L and F1 (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    out, word = [], []
    for c in text:
        if not _is_word_char(c):
            if word:
                out.append("".join(word))
                word = []
            continue
        if tokenizer == "char" or _is_han(c) or _is_kana(c):
            if word:
                out.append("".join(word))
                word = []
            if unicodedata.category(c)[0] == "M" and out:  # a combining mark stays with its base character
                out[-1] += c
            else:
                out.append(c)
        else:
            word.append(c)
    if word:
        out.append("".join(word))
    return out


def rouge_tokens(text: str, tokenizer: str = "13a") -> list:
    return metric_tokens(text, tokenizer)


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


def rouge_l(prediction: str, reference: str, tokenizer: str = "13a") -> dict:
    """LCS-based precision / recall / F1 (beta = 1, as rouge-score's rougeL)."""
    pred, ref = rouge_tokens(prediction, tokenizer), rouge_tokens(reference, tokenizer)
    if not pred or not ref:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    lcs = lcs_length(pred, ref)
    p, r = lcs / len(pred), lcs / len(ref)
    f = 0.0 if lcs == 0 else 2 * p * r / (p + r)
    return {"precision": p, "recall": r, "fmeasure": f}


def corpus_bleu(predictions: list, references: list, tokenizer: str = "13a") -> float:
    """sacrebleu corpus BLEU / 100. `references` is one list per reference stream (like sacrebleu)."""
    import sacrebleu

    if references and isinstance(references[0], str):
        references = [references]
    return sacrebleu.corpus_bleu(predictions, references, tokenize=tokenizer).score / 100.0


def sentence_bleu(prediction: str, reference: str, tokenizer: str = "13a") -> float:
    import sacrebleu

    return sacrebleu.sentence_bleu(prediction, [reference], tokenize=tokenizer).score / 100.0


def exact_match(prediction: str, reference: str) -> float:
    return float(prediction.strip() == reference.strip())


def accuracy(prediction: str, reference: str) -> float:
    """Exact match after NFKC normalisation (full-width = half-width) and collapsing whitespace and case."""
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).split()).lower()
    return float(norm(prediction) == norm(reference))


_ASCII_PUNCT = set(string.punctuation)


def _squad_normalize(text: str, tokenizer: str = "13a") -> list:
    """SQuAD's normalisation (lowercase, no punctuation - any script's, e.g. '，。' - no English articles),
    then the metric tokens (CJK per character)."""
    text = unicodedata.normalize("NFKC", text).lower()
    # ASCII punctuation is deleted as SQuAD does ("don't" -> "dont"); other scripts' punctuation separates.
    text = "".join("" if ch in _ASCII_PUNCT else " " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return metric_tokens(text, tokenizer)


def token_f1(prediction: str, reference: str, tokenizer: str = "13a") -> float:
    """SQuAD-style token F1 (bag of normalised tokens)."""
    pred, ref = _squad_normalize(prediction, tokenizer), _squad_normalize(reference, tokenizer)
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
