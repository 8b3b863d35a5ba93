#!/usr/bin/env python3
"""check_tok_fixture_peers.py: cross-check the committed tokenizer fixtures
(tests/fixtures/tok_gemma3.jsonl, tok_smollm2.jsonl, made by make_tok_fixture.py with
sentencepiece / HF tokenizers) against the two references issue 3 names, each loading
the same GGUF file:
  * llama.cpp through llama-cpp-python: Llama(model_path, vocab_only=True).tokenize(
    text.encode(), add_bos=False, special=<entry's "special">)
  * transformers: AutoTokenizer.from_pretrained(dir, gguf_file=name).encode(text,
    add_special_tokens=False); entries with "special": true are encoded the same way
    (transformers always splits out its added special tokens, which is what
    "special" means in the fixture).
The fixture has no BOS anywhere (ids of the text alone), so add_bos is always False.
Long entries ({"unit","repeat"}) compare the id count and the FNV-1a hash.

The two peers live in separate venvs, so this script runs itself once per peer as a
child (--peer llama|hf) that prints one JSON line of ids (or hash) per fixture entry,
and the parent compares and prints, per model and per peer, how many entries agree,
plus the first few disagreements. Exit status 1 if any peer disagrees.

Usage: check_tok_fixture_peers.py [MODELS_DIR] [--llama-py PY] [--hf-py PY]
  defaults: $HONE_MODELS or models; ~/.cache/hone/venv-llama/bin/python
  (llama-cpp-python), ~/.cache/hone/venv-ref/bin/python (transformers, gguf).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
MODELS = {"gemma3": ("tok_gemma3.jsonl", "gemma-3-270m-q4_k_m.gguf"),
          "smollm2": ("tok_smollm2.jsonl", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def fnv(ids):
    h = 1469598103934665603
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def load(name):
    with open(os.path.join(FIX, MODELS[name][0]), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def child(peer, name, models_dir):
    gg = MODELS[name][1]
    if peer == "llama":
        import llama_cpp
        llm = llama_cpp.Llama(model_path=os.path.join(models_dir, gg), vocab_only=True,
                              verbose=False)
        enc = lambda t, sp: llm.tokenize(t.encode("utf-8"), add_bos=False, special=sp)  # noqa
        ver = "llama-cpp-python " + llama_cpp.__version__
    else:
        import transformers
        tk = transformers.AutoTokenizer.from_pretrained(models_dir, gguf_file=gg)
        enc = lambda t, sp: tk.encode(t, add_special_tokens=False)  # noqa
        ver = "transformers " + transformers.__version__
    out = sys.stdout
    out.write(json.dumps({"version": ver}) + "\n")
    for e in load(name):
        if "unit" in e:
            ids = enc(e["unit"] * e["repeat"], False)
            out.write(json.dumps({"n_ids": len(ids), "fnv": fnv(ids)}) + "\n")
        else:
            out.write(json.dumps({"ids": list(enc(e["text"], bool(e.get("special"))))}) + "\n")


def compare(name, peer, py, models_dir):
    r = subprocess.run([py, os.path.abspath(__file__), "--peer", peer, name, models_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name} {peer}: failed to run ({py}):\n{r.stderr[-2000:]}")
        return False
    lines = r.stdout.splitlines()
    ver = json.loads(lines[0])["version"]
    got = [json.loads(x) for x in lines[1:]]
    ref = load(name)
    assert len(got) == len(ref), (len(got), len(ref))
    bad = []
    for i, (e, g) in enumerate(zip(ref, got)):
        if "unit" in e:
            ok = (e["n_ids"], e["fnv"]) == (g["n_ids"], g["fnv"])
        else:
            ok = e["ids"] == g["ids"]
        if not ok:
            bad.append((i, e, g))
    print(f"{name}: {ver}: {len(ref) - len(bad)}/{len(ref)} agree with the fixture")
    for i, e, g in bad[:8]:
        txt = e.get("text", e.get("unit"))
        print(f"  line {i + 1}: {txt[:60]!r}{' special' if e.get('special') else ''}")
        print(f"    fixture {e.get('ids', (e.get('n_ids'), e.get('fnv')))}")
        print(f"    peer    {g.get('ids', (g.get('n_ids'), g.get('fnv')))}")
    return not bad


def main():
    a = sys.argv[1:]
    if a and a[0] == "--peer":
        child(a[1], a[2], a[3])
        return 0
    cache = os.path.expanduser("~/.cache/hone")
    llama_py = os.path.join(cache, "venv-llama/bin/python")
    hf_py = os.path.join(cache, "venv-ref/bin/python")
    models_dir = os.environ.get("HONE_MODELS", "models")
    pos = []
    i = 0
    while i < len(a):
        if a[i] == "--llama-py":
            llama_py = a[i + 1]; i += 2  # noqa: E702
        elif a[i] == "--hf-py":
            hf_py = a[i + 1]; i += 2  # noqa: E702
        else:
            pos.append(a[i]); i += 1  # noqa: E702
    if pos:
        models_dir = pos[0]
    models_dir = os.path.abspath(models_dir)
    ok = True
    for name in MODELS:
        ok &= compare(name, "llama", llama_py, models_dir)
        ok &= compare(name, "hf", hf_py, models_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
