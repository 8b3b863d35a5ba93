#!/usr/bin/env python3
"""test_tokjson_gemma.py: hone's tokenizer.json loader on the real Gemma 3
vocabulary (262,144 pieces, 514,906 merges, 6,384 added tokens) against Hugging
Face `tokenizers` on the same file.

The Gemma 3 tokenizer.json is too big to commit (33 MB) and cannot be downloaded
here, so it is generated into /tmp (cached by the GGUF's size and mtime) from
$HONE_MODELS/gemma-3-270m-q4_k_m.gguf with transformers' GGUF converter
(AutoTokenizer.from_pretrained(gguf_file=...).save_pretrained: Gemma's own layout,
Replace normalizer, Split pre-tokenizer, byte_fallback BPE). That needs the
reference venv with transformers + tokenizers (~/.cache/hone/venv-ref, or
$HONE_REF_PY): this script runs it as a subprocess, and skips (exit 0, saying so)
when it or the model is absent.

Compared, with no tolerance: build/tools/tok_batch's ids for the folder vs
tokenizers' encode(add_special_tokens=False) ids, on every string of
tests/fixtures/tok_gemma3.jsonl (2207, the 4 long ones expanded), all encoded with
special-token text parsed (HF always splits added tokens). Also printed, not
asserted: how many of those ids differ from hone's GGUF tokenizer (llama.cpp's
rules): the README of tests/fixtures names the one known case (100,000 spaces).
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build/tools/tok_batch")
FIXTURE = os.path.join(ROOT, "tests/fixtures/tok_gemma3.jsonl")

REF_CODE = r"""
import json, os, sys
from transformers import AutoTokenizer
from tokenizers import Tokenizer
gguf, out, texts_path, ids_path = sys.argv[1:5]
if not os.path.exists(os.path.join(out, "tokenizer.json")):
    tmp = out + ".tmp"
    AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf)).save_pretrained(tmp)
    os.rename(tmp, out)
tk = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
with open(texts_path, encoding="utf-8") as f, open(ids_path, "w") as g:
    for line in f:
        g.write(json.dumps(tk.encode(json.loads(line)["text"], add_special_tokens=False).ids) + "\n")
"""


def skip(why):
    print(f"skipped: {why}")
    sys.exit(0)


def main():
    ref_py = os.environ.get("HONE_REF_PY", os.path.expanduser("~/.cache/hone/venv-ref/bin/python"))
    gguf = os.path.join(os.environ.get("HONE_MODELS", os.path.join(ROOT, "models")), "gemma-3-270m-q4_k_m.gguf")
    if not os.path.exists(gguf):
        skip(f"{gguf} not found (set HONE_MODELS)")
    if not os.access(ref_py, os.X_OK) or subprocess.run(
            [ref_py, "-c", "import transformers, tokenizers"], capture_output=True).returncode:
        skip(f"no reference python with transformers + tokenizers ({ref_py}; set HONE_REF_PY)")
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built")
        sys.exit(1)
    texts = []
    with open(FIXTURE, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            texts.append(o["text"] if "text" in o else o["unit"] * o["repeat"])
    st = os.stat(gguf)
    folder = f"{tempfile.gettempdir()}/hone-tokhf-gemma3-{st.st_size}-{int(st.st_mtime)}"
    with tempfile.TemporaryDirectory() as tmp:
        tpath, hpath = f"{tmp}/texts.jsonl", f"{tmp}/hf.jsonl"
        with open(tpath, "w", encoding="utf-8") as f:
            for s in texts:
                f.write(json.dumps({"text": s, "special": True}, ensure_ascii=False) + "\n")
        r = subprocess.run([ref_py, "-c", REF_CODE, gguf, folder, tpath, hpath], capture_output=True, text=True)
        if r.returncode:
            print("FAIL: reference:", r.stderr[-2000:])
            sys.exit(1)
        with open(hpath) as f:
            hf = [json.loads(x) for x in f]

        def hone(model):
            with open(tpath, "rb") as f:
                r = subprocess.run([TOOL, model], stdin=f, capture_output=True)
            if r.returncode:
                print("FAIL: tok_batch", model, r.stderr.decode(errors="replace"))
                sys.exit(1)
            return [json.loads(x)["ids"] for x in r.stdout.decode().splitlines()]

        mine, gg = hone(folder), hone(gguf)
    assert len(hf) == len(mine) == len(gg) == len(texts)
    bad = [i for i in range(len(texts)) if hf[i] != mine[i]]
    for i in bad[:5]:
        print(f"MISMATCH {texts[i][:60]!r}: HF {hf[i][:20]} hone {mine[i][:20]}")
    ggd = [i for i in range(len(texts)) if gg[i] != mine[i]]
    print(f"gemma3 tokenizer.json: {len(texts) - len(bad)}/{len(texts)} strings give HF tokenizers' ids exactly "
          f"({sum(map(len, hf))} ids)")
    print(f"  vs hone's GGUF tokenizer (llama.cpp rules): {len(texts) - len(ggd)}/{len(texts)} agree; differing: "
          + ", ".join(f"{texts[i][:12]!r}x{len(texts[i])} ({len(mine[i])} vs {len(gg[i])} ids)" for i in ggd[:5]))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
