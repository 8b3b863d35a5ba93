#!/usr/bin/env python3
"""make_hf_spm_fixture.py: small SentencePiece-style Hugging Face tokenizer folders
(model.type "BPE" with byte_fallback) and their reference ids, written once and
committed (tests/fixtures/hf_tok/spm_*/{tokenizer.json, tokenizer_config.json,
ids.jsonl}); tests/unit/test_tokenizer_hf_spm.c loads each with hone_tok_load_hf
and compares ids and decoded text without Python.

The vocabulary is llama.cpp's ggml-vocab-llama-spm.gguf (the Llama 2 tokenizer)
converted by transformers' GGUF converter (AutoTokenizer.from_pretrained(...,
gguf_file=...).save_pretrained: merges derived from the scores the way HF does),
then trimmed to its first KEEP ids (control + 256 byte tokens + the best-scored
pieces) plus every single-character piece, and the merges whose two sides and result survive, so it stays small.
Three shapes of real models' tokenizer.json around the same vocabulary:
  spm_llama   pre_tokenizer Metaspace(prepend_scheme "first", split false) and a
              decoder ending in Strip(" ", 1, 0): what transformers 5 writes for
              Llama 2 / Mistral
  spm_legacy  normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], no
              pre_tokenizer: the older Llama 2 / Mistral tokenizer.json
  spm_gemma   normalizer Replace(" ", "▁"), pre_tokenizer Split(" ",
              MergedWithPrevious), no Strip, no space prefix: Gemma's layout
Each gets added tokens: special <start_of_turn>, <end_of_turn>; non-special
"<tag>" and "\\n\\n" (Gemma's added newline runs are of that kind).
The reference ids are `tokenizers`' own encode (add_special_tokens=False); strings
holding special-token text are marked "special" (hone: HONE_TOK_SPECIAL).
"decoded" is tokenizers' decode of those ids (skip_special_tokens=False) where it
differs from the text (leading spaces the Strip decoder removes).

Needs: transformers, tokenizers, gguf (~/.cache/hone/venv-ref has them).
Run: python tests/ref/make_hf_spm_fixture.py [TESTDATA_DIR]
"""
import json
import os
import sys

from tokenizers import AddedToken, Tokenizer
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from make_tok_fixture import corpus  # noqa: E402

KEEP = 3000
OUT = "tests/fixtures/hf_tok"
WS = "\u2581"


def converted(testdata):
    tmp = "/tmp/hone-spm-fixture-src"
    AutoTokenizer.from_pretrained(f"{testdata}/tokenizer", gguf_file="ggml-vocab-llama-spm.gguf").save_pretrained(tmp)
    with open(f"{tmp}/tokenizer.json", encoding="utf-8") as f:
        return json.load(f)


def trim(d):
    # single characters sit at the end of a sentencepiece vocabulary: keep them all
    vocab = {k: v for k, v in d["model"]["vocab"].items() if v < KEEP or len(k) == 1}
    merges = [m for m in d["model"]["merges"] if m[0] in vocab and m[1] in vocab and m[0] + m[1] in vocab]
    d["model"]["vocab"] = vocab
    d["model"]["merges"] = merges
    d["added_tokens"] = [a for a in d["added_tokens"] if a["id"] < KEEP]
    # ids stay as they are (gaps where pieces were dropped): hone must cope with them
    return d


def shape(base, kind):
    d = json.loads(json.dumps(base))
    dec = [{"type": "Replace", "pattern": {"String": WS}, "content": " "}, {"type": "ByteFallback"},
           {"type": "Fuse"}]
    if kind == "spm_llama":
        pass  # as transformers wrote it
    elif kind == "spm_legacy":
        d["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": WS},
            {"type": "Replace", "pattern": {"String": " "}, "content": WS}]}
        d["pre_tokenizer"] = None
        d["decoder"] = {"type": "Sequence", "decoders": dec + [
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    elif kind == "spm_gemma":
        d["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": WS}
        d["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                              "invert": False}
        d["decoder"] = {"type": "Sequence", "decoders": dec}
    tk = Tokenizer.from_str(json.dumps(d))
    tk.add_special_tokens([AddedToken("<start_of_turn>", special=True, normalized=False),
                           AddedToken("<end_of_turn>", special=True, normalized=False)])
    tk.add_tokens([AddedToken("<tag>", special=False, normalized=False),
                   AddedToken("\n\n", special=False, normalized=False)])
    return tk


def main():
    testdata = sys.argv[1] if len(sys.argv) > 1 else "../shared/testdata"
    base = trim(converted(testdata))
    texts = corpus()[:300] + ["<tag>x<tag>", "a\n\nb\n\n\nc", " <tag> x", "▁ already ▁▁ there"]
    specials = ["<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n",
                "<start_of_turn> lead space", "a<end_of_turn>b <tag> c", "<end_of_turn><end_of_turn>x"]
    for kind in ("spm_llama", "spm_legacy", "spm_gemma"):
        d = f"{OUT}/{kind}"
        os.makedirs(d, exist_ok=True)
        tk = shape(base, kind)
        tk.save(f"{d}/tokenizer.json")
        cfg = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "chat_template": "{% for m in messages %}{{'<start_of_turn>' + m['role'] + '\\n' + m['content']"
                                " + '<end_of_turn>\\n'}}{% endfor %}"}
        with open(f"{d}/tokenizer_config.json", "w") as f:
            json.dump(cfg, f, indent=1)
        with open(f"{d}/ids.jsonl", "w", encoding="utf-8") as f:
            for s in texts + specials:
                rec = {"text": s}
                if s in specials:
                    rec["special"] = True
                ids = tk.encode(s, add_special_tokens=False).ids
                rec["ids"] = ids
                dec = tk.decode(ids, skip_special_tokens=False)
                if dec != s:
                    rec["decoded"] = dec  # absent: decodes back to the text
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(kind, os.path.getsize(f"{d}/tokenizer.json"), "bytes")


if __name__ == "__main__":
    main()
