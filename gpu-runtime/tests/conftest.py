import json
import os
import subprocess
import sys

import pytest

RUNTIME = [sys.executable, "-m", "loraplane_runtime.cli"]


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("lp")


@pytest.fixture(scope="session")
def tiny_model(work):
    from loraplane_runtime.tiny_model import make_tiny_model

    out = work / "model"
    make_tiny_model(str(out), "qwen2", layers=2, hidden=64, heads=4, seed=0)
    return str(out)


@pytest.fixture(scope="session")
def demo_data(work):
    from loraplane_runtime.demo_data import make_demo_data

    out = work / "data"
    make_demo_data(str(out), seed=1, train=256, validation=32, test=32)
    return str(out)


def write_job(path, *, base, data, out, adapter=None, training=None, eval_=None, stage="train", dataset=None, extra=None):
    job = {"runId": "run_test", "stage": stage,
           "paths": {"baseModel": base, "dataDir": data, "outputDir": out, "adapterDir": adapter},
           "spec": {"training": {"learningRate": 1e-3, "batchSize": 8, "maxSteps": 20, "logEverySteps": 5,
                                 "checkpointEverySteps": 10, "warmupRatio": 0.0, "lora": {"r": 8, "alpha": 16},
                                 **(training or {})},
                    "eval": eval_ or {}, "dataset": dataset or {}, **(extra or {})}}
    with open(path, "w") as f:
        json.dump(job, f)
    return str(path)


def run_cli(args, timeout=300, env=None):
    e = dict(os.environ)
    e.pop("LORAPLANE_URL", None)
    e.pop("LORAPLANE_RUN_TOKEN", None)
    e.update(env or {})
    return subprocess.run(RUNTIME + args, capture_output=True, text=True, timeout=timeout, env=e)


def events(stdout: str) -> list:
    """Every stdout line must be a JSON object (the contract); returns them parsed."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def short_model(work):
    """Like tiny_model, with a 128-position context (context-length limits are testable quickly)."""
    from loraplane_runtime.tiny_model import make_tiny_model

    out = work / "model-short"
    make_tiny_model(str(out), "qwen2", layers=2, hidden=64, heads=4, seed=0, max_positions=128)
    return str(out)


QWEN_STYLE_TEMPLATE = (  # Qwen2.5's template minus tools
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@pytest.fixture(scope="session")
def bpe_model(work, demo_data):
    """A tiny Qwen2 with a byte-level BPE tokenizer trained (here, with `tokenizers`) on the demo data, Qwen's
    special tokens and a Qwen-style chat template; two EOS ids like Qwen instruct models."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from loraplane_runtime.tiny_model import make_tiny_model

    texts = []
    with open(os.path.join(demo_data, "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts += [row["instruction"], row.get("input", ""), row["output"]]
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=special,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=special, chat_template=QWEN_STYLE_TEMPLATE,
                                  model_max_length=2048)
    out = work / "model-bpe"
    make_tiny_model(str(out), "qwen2", layers=2, hidden=64, heads=4, seed=0, tokenizer=tok)
    gc_path = out / "generation_config.json"
    gc = json.loads(gc_path.read_text())
    gc["eos_token_id"] = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    gc_path.write_text(json.dumps(gc))
    return str(out)


@pytest.fixture(scope="session")
def bos_model(work):
    """The char tokenizer with a Llama-style post-processor that puts <|bos|> before every text, and no chat
    template: the tokenizer "needs BOS" and prompts use the Alpaca template."""
    from tokenizers import processors

    from loraplane_runtime.tiny_model import build_tokenizer, make_tiny_model

    tok = build_tokenizer()
    bos = tok.convert_tokens_to_ids("<|bos|>")
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B", special_tokens=[("<|bos|>", bos)])
    tok.chat_template = None
    out = work / "model-bos"
    make_tiny_model(str(out), "llama", layers=2, hidden=64, heads=4, seed=0, tokenizer=tok)
    return str(out)
