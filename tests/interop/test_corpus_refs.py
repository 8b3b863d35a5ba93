#!/usr/bin/env python3
"""test_corpus_refs.py: the committed robustness corpora against their generators
and the reference parsers.

For each of tests/corpus/{gguf,safetensors,hfconfig}:
  1. its generator (tests/ref/make_*_corpus.py --out TMP) rewrites it byte for
     byte: the committed files and EXPECTED.tsv are what the script says
     (inputs found by fuzzing, fuzz-*, are kept by hand and skipped here);
  2. the generator's --check passes: valid GGUF files open in gguf-py with the
     written counts, names and types, and `hone inspect` agrees with gguf-py;
     safetensors files load (or are refused) in the PyPI safetensors package as
     their EXPECTED.tsv line says; config texts parse (or not) in Python's json.
Exit status non-zero on any difference.
"""
import filecmp
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GENERATORS = {"gguf": "make_gguf_corpus.py", "safetensors": "make_safetensors_corpus.py",
              "hfconfig": "make_config_corpus.py"}

bad = 0
for corpus, script in GENERATORS.items():
    gen = os.path.join(ROOT, "tests", "ref", script)
    committed = os.path.join(ROOT, "tests", "corpus", corpus)
    if not os.path.isdir(committed):
        print("FAIL %s: tests/corpus/%s is missing" % (corpus, corpus))
        bad += 1
        continue
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, gen, "--out", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL %s: %s failed: %s" % (corpus, script, r.stderr.strip()[-300:]))
            bad += 1
            continue
        made = set(os.listdir(tmp))
        have = {n for n in os.listdir(committed)
                if not n.startswith("fuzz-") and os.path.isfile(os.path.join(committed, n))}
        diff = sorted(made ^ have)
        _, mismatch, errors = filecmp.cmpfiles(tmp, committed, sorted(made & have), shallow=False)
        if diff or mismatch or errors:
            print("FAIL %s: committed corpus differs from %s (regenerate it): %s"
                  % (corpus, script, " ".join((diff + mismatch + errors)[:8])))
            bad += 1
        else:
            print("ok   %s: %d committed files equal the generator's output" % (corpus, len(made)))
    r = subprocess.run([sys.executable, gen, "--check"], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    out = (r.stdout + r.stderr).strip()
    print(("ok   " if r.returncode == 0 else "FAIL ") + corpus + ": " + out.replace("\n", "\n     "))
    bad += r.returncode != 0

sys.exit(1 if bad else 0)
