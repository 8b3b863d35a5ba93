#!/usr/bin/env python3
"""make_hf_tok_fixture.py: small Hugging Face tokenizer folders and their reference
ids, written once and committed (tests/fixtures/hf_tok/NAME/{tokenizer.json,
tokenizer_config.json, ids.jsonl}); tests/unit/test_tokenizer_hf.c loads each
folder with hone_tok_load_hf and compares ids without Python.

The tokenizers are trained here with Hugging Face `tokenizers` (vocab 1000, on the
corpus of make_tok_fixture.py) in the shapes of real models' tokenizer.json:
  smollm  Sequence[Digits(individual), ByteLevel(use_regex)]          (SmolLM2, StarCoder)
  llama3  Sequence[Split(Llama 3 regex, Isolated), ByteLevel(no regex)], ignore_merges
  qwen2   NFC normalizer + Sequence[Split(Qwen 2 regex), ByteLevel(no regex)]
Each has special added tokens (<|endoftext|>, <|im_start|>, <|im_end|>) and one
non-special added token (<tag>). The reference ids are `tokenizers`' own encode
(add_special_tokens=False); HF always splits added tokens, so strings holding
special-token text are marked "special" (hone: HONE_TOK_SPECIAL). Strings that
NFC normalization changes are marked "nfc_changes" for qwen2: hone, like
llama.cpp, does not apply the NFC normalizer (no Unicode tables of its own).

Needs: pip install tokenizers.   Run: python tests/ref/make_hf_tok_fixture.py
"""
import json
import os
import sys
import unicodedata

from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(__file__))
from make_tok_fixture import corpus  # noqa: E402

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
OUT = "tests/fixtures/hf_tok"


def build(kind, texts):
    tk = Tokenizer(models.BPE())
    if kind == "smollm":
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3 if kind == "llama3" else QWEN2), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        if kind == "qwen2":
            tk.normalizer = normalizers.NFC()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(texts, trainer)
    if kind == "llama3":  # same vocab and merges, with ignore_merges as Llama 3 ships it
        d = json.loads(tk.to_str())
        d["model"]["ignore_merges"] = True
        tk = Tokenizer.from_str(json.dumps(d))
    tk.add_tokens([AddedToken("<tag>", special=False, normalized=False)])
    return tk


def main():
    texts = corpus()
    train, test = texts[200:], texts[:300]
    specials = ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n",
                "a<|endoftext|>b <tag> c", "<|im_end|><|im_end|>x"]
    for kind in ("smollm", "llama3", "qwen2"):
        d = f"{OUT}/{kind}"
        os.makedirs(d, exist_ok=True)
        tk = build(kind, train)
        tk.save(f"{d}/tokenizer.json")
        cfg = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "add_bos_token": False,
               "chat_template": "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content']"
                                " + '<|im_end|>\\n'}}{% endfor %}"}
        with open(f"{d}/tokenizer_config.json", "w") as f:
            json.dump(cfg, f, indent=1)
        with open(f"{d}/ids.jsonl", "w", encoding="utf-8") as f:
            for s in test + ["<tag>x<tag>"]:
                if any(x in s for x in SPECIAL):
                    continue
                rec = {"text": s, "ids": tk.encode(s, add_special_tokens=False).ids}
                if kind == "qwen2" and unicodedata.normalize("NFC", s) != s:
                    rec["nfc_changes"] = True  # hone does not apply NFC (as llama.cpp): known difference
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            for s in specials:
                f.write(json.dumps({"text": s, "special": True,
                                    "ids": tk.encode(s, add_special_tokens=False).ids},
                                   ensure_ascii=False) + "\n")
        print(kind, os.path.getsize(f"{d}/tokenizer.json"), "bytes")


if __name__ == "__main__":
    main()
