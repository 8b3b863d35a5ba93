#!/usr/bin/env python3
"""tok_peers.py: single-thread tokenizer speed of the reference peers on the same
input as `hone tokenize --bench`: Google's sentencepiece (Gemma 3 vocabulary, the
model rebuilt from the GGUF as tests/ref/make_tok_fixture.py does) and Hugging Face
tokenizers (SmolLM2). Usage: tok_peers.py MODELS_DIR FILE RUNS
Needs: pip install sentencepiece protobuf tokenizers gguf numpy"""
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # HF tokenizers: one thread
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ref"))
import make_tok_fixture as ref  # noqa: E402


def bench(label, enc, text, runs):
    enc(text, False)
    t0 = time.perf_counter()
    for _ in range(runs):
        n = len(enc(text, False))
    dt = (time.perf_counter() - t0) / runs
    nb = len(text.encode())
    print(f"{label}: {nb} bytes, {n} tokens, {dt:.4f} s/run, {nb / dt / 1e6:.2f} MB/s")


def main():
    d, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(path, encoding="utf-8").read()
    bench("sentencepiece gemma-3", ref.gemma_ref(f"{d}/gemma-3-270m-q4_k_m.gguf"), text, runs)
    bench("hf-tokenizers smollm2", ref.smol_ref(f"{d}/SmolLM2-135M-Instruct.Q4_1.gguf"), text, runs)


if __name__ == "__main__":
    main()
