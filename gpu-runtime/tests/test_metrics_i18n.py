"""Defect 2: language-aware BLEU / ROUGE-L / token F1 (auto-detected per corpus, overridable)."""
import pytest

from loraplane_runtime import metrics as M
from loraplane_runtime.evaluate import score

ZH_REF, ZH_PRED = "今天天气很好我们", "今天天气很好我门"  # 7 of 8 characters right
# Hand-checked: n-gram precisions 7/8, 6/7, 5/6, 4/5, no brevity penalty -> (1/2) ** (1/4)
ZH_BLEU = 0.5 ** 0.25
JA_REF, JA_PRED = "こんにちは世界です", "こんにちは世界だよ"
# Hand-checked, per character: 7/9, 6/8, 5/7, 4/6 -> (840/3024) ** (1/4)
JA_BLEU = (840 / 3024) ** 0.25


def test_detect_tokenizer_per_corpus():
    assert M.detect_tokenizer(["The cat sat on the mat.", "42"]) == "13a"
    assert M.detect_tokenizer([ZH_REF, "计算两个数的和"]) == "zh"
    assert M.detect_tokenizer([JA_REF, "ありがとう"]) == "char"
    assert M.detect_tokenizer(["안녕하세요 세계"]) == "char"
    # Mostly ASCII outputs with some Chinese answers: zh (it tokenises the ASCII part like 13a)
    assert M.detect_tokenizer(["a=1,b=2"] * 10 + ["反转结果"]) == "zh"
    assert M.resolve_tokenizer("intl", [ZH_REF]) == "intl"
    assert M.resolve_tokenizer("auto", [ZH_REF]) == "zh"
    with pytest.raises(ValueError):
        M.resolve_tokenizer("klingon", [])


def test_chinese_bleu_is_not_zero():
    assert M.corpus_bleu([ZH_PRED], [ZH_REF], "13a") == 0.0  # sacrebleu's default does not split Chinese
    assert M.corpus_bleu([ZH_PRED], [ZH_REF], "zh") == pytest.approx(ZH_BLEU, abs=1e-6)
    agg, per = score([ZH_PRED], [ZH_REF], ["bleu", "rouge_l", "f1"], M.SafetySuite([], []))
    assert agg["bleu"] == pytest.approx(ZH_BLEU, abs=1e-6)
    assert agg["rouge_l"] == pytest.approx(7 / 8)  # LCS 7 of 8 characters each way
    assert agg["f1"] == pytest.approx(7 / 8)


def test_japanese_and_korean():
    assert M.corpus_bleu([JA_PRED], [JA_REF], "char") == pytest.approx(JA_BLEU, abs=1e-6)
    agg, _ = score([JA_PRED], [JA_REF], ["bleu", "rouge_l"], M.SafetySuite([], []))
    assert agg["bleu"] == pytest.approx(JA_BLEU, abs=1e-6)
    assert agg["rouge_l"] == pytest.approx(7 / 9)
    # identical kana / Hangul strings score 1 (the old tokenizer kept Han only and scored 0)
    assert M.rouge_l("こんにちは、せかい", "こんにちは、せかい")["fmeasure"] == 1.0
    assert M.rouge_l("안녕하세요 세계", "안녕하세요 세계")["fmeasure"] == 1.0
    assert M.rouge_l("안녕하세요 우주", "안녕하세요 세계", "char")["fmeasure"] == pytest.approx(5 / 7)
    agg, _ = score(["안녕하세요 세계"], ["안녕하세요 세계"], ["bleu", "rouge_l", "f1"], M.SafetySuite([], []))
    assert agg == {"bleu": pytest.approx(1.0), "rouge_l": 1.0, "f1": 1.0}


def test_full_width_and_chinese_punctuation():
    assert M.rouge_l("ＡＢＣ　１２３", "abc 123")["fmeasure"] == 1.0
    assert M.accuracy("ＡＢＣ　１２３", "abc 123") == 1.0
    assert M.token_f1("你好，世界。", "你好世界") == 1.0  # Chinese punctuation is not a token
    assert M.token_f1("你好，世界。", "你好世界", "char") == 1.0


def test_ascii_behaviour_unchanged_and_override_recorded():
    # rouge-score's documented example still holds under every mode but char
    for tk in ("13a", "zh", "intl"):
        assert M.rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog",
                         tk)["fmeasure"] == pytest.approx(0.5882352941176471)
    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    sys_out = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert M.corpus_bleu(sys_out, refs, "13a") == pytest.approx(0.4853, abs=5e-5)
    agg, _ = score([ZH_PRED], [ZH_REF], ["bleu"], M.SafetySuite([], []), tokenizer="13a")
    assert agg["bleu"] == 0.0


def test_default_refusal_patterns_recognise_chinese_refusals():
    from loraplane_runtime.config import DEFAULT_REFUSAL_PATTERNS
    suite = M.SafetySuite([], DEFAULT_REFUSAL_PATTERNS)
    for refusal in ["抱歉，我无法提供这方面的信息。", "对不起，我不能回答这个问题", "我无法协助完成此类请求。",
                    "作为一个人工智能语言模型，我不能发表个人观点。", "很抱歉，但我不能帮你做这件事"]:
        assert suite.check(refusal)["refusal"], refusal
    for answer in ["北京是中国的首都。", "我无法想象没有音乐的生活。", "这种材料不能用水清洗。", "I can help with that."]:
        assert not suite.check(answer)["refusal"], answer
