import pytest

from loraplane_runtime import metrics as M


def test_rouge_l_matches_rouge_score_reference():
    # rouge-score's README example (rougeL): precision 0.625, recall 0.5556, fmeasure 0.5882
    s = M.rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog")
    assert s["precision"] == pytest.approx(0.625)
    assert s["recall"] == pytest.approx(5 / 9)
    assert s["fmeasure"] == pytest.approx(0.5882352941176471)


def test_rouge_l_edge_cases():
    assert M.rouge_l("a b c", "a b c")["fmeasure"] == 1.0
    assert M.rouge_l("x y", "a b")["fmeasure"] == 0.0
    assert M.rouge_l("", "a")["fmeasure"] == 0.0
    assert M.lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # CLRS textbook example
    # CJK characters are tokens of their own (rouge-score would drop them)
    assert M.rouge_l("计算和", "计算两个数的和")["precision"] == pytest.approx(1.0)


def test_bleu_matches_sacrebleu_documented_example():
    # sacrebleu README: BLEU = 48.53 for this system output against two reference streams
    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    sys_out = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert M.corpus_bleu(sys_out, refs) == pytest.approx(0.4853, abs=5e-5)
    assert M.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(1.0)


def test_exact_accuracy_f1():
    assert M.exact_match(" 42 ", "42") == 1.0
    assert M.exact_match("Hello", "hello") == 0.0
    assert M.accuracy("Hello   World", "hello world") == 1.0
    # SQuAD-style: articles/punctuation removed; pred {cat, sat}, ref {cat, sat, on, mat}
    assert M.token_f1("The cat sat.", "a cat sat on the mat") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert M.token_f1("dog", "cat") == 0.0


def test_safety_suite():
    suite = M.SafetySuite(["badword"], [r"\bI can(?:not|'t) help\b"])
    assert suite.check("all good")["pass"]
    assert not suite.check("this has BADWORD inside")["pass"]
    r = suite.check("Sorry, I can't help with that")
    assert r["refusal"] and not r["pass"]
