#!/usr/bin/env python3
"""tok_vs_llamacpp.py: single-thread tokenizer speed, hone against llama.cpp's own
tokenizer, in one run, on the same machine and the same text (issue 3, item 6).

Texts (made here, deterministic): 1 MB of English words, and 1 MB (UTF-8 bytes) of
mixed multilingual text (Russian, Chinese, Japanese, Arabic, Hindi, English, emoji),
each encoded as ONE string, no BOS, no special-token parsing.
  hone:      `build/hone tokenize --bench 1 --model M - < FILE` once per run (its own timer
             covers the encode only, not the model load); median of RUNS runs.
  llama.cpp: llama-cpp-python, Llama(vocab_only=True), then the C function
             llama_tokenize on the whole byte string with an output buffer large
             enough for one call (Llama.tokenize would first try an n_ctx_train-sized
             buffer and tokenize twice); timed around that one ctypes call, so
             the Python overhead is one call per MB: negligible. llama.cpp's
             tokenizer is single-threaded. Median of RUNS runs.
Both outputs' token counts are printed; they must be equal (the fixture check
tests/ref/check_tok_fixture_peers.py shows the ids agree).

Usage: PY bench/tok_vs_llamacpp.py [MODELS_DIR] [RUNS]   (PY: a python with
llama-cpp-python, e.g. ~/.cache/hone/venv-llama/bin/python; needs build/hone)
"""
import ctypes
import os
import random
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = ["gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"]
MB = 1000000


def texts():
    words = ("the quick brown fox jumps over a lazy dog while some people are reading "
             "books about history and science in the library").split()
    r = random.Random(1)
    en = " ".join(r.choice(words) for _ in range(200000)).encode()[:MB]
    ml = ("Привет мир, как дела? 你好世界，这是测试。こんにちは世界。 مرحبا بالعالم "
          "नमस्ते दुनिया Hello world 🚀 ")
    b = (ml * 20000).encode()[:MB]
    b = b.decode("utf-8", "ignore").encode()  # cut at a character boundary
    return [("en", en), ("ml", b)]


def hone_run(model, path):
    with open(path, "rb") as f:
        out = subprocess.run([os.path.join(ROOT, "build", "hone"), "tokenize", "--bench", "1",
                              "--model", model, "-"], stdin=f, capture_output=True, text=True,
                             check=True)
    # "N bytes, T tokens, 1 runs, S s/run, X MB/s"
    f = out.stdout.split(",")
    ntok = int(f[1].split()[0])
    sec = float(f[3].split()[0])
    return ntok, sec


def main():
    import llama_cpp
    d = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HONE_MODELS",
                                                                             "models"))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    import tempfile
    tmp = tempfile.mkdtemp()
    print(f"llama-cpp-python {llama_cpp.__version__}; runs={runs}; median s/run; MB = 1e6 bytes")
    print(f"{'text':4} {'vocab':34} {'bytes':>8} {'tokens':>7} {'hone MB/s':>10} "
          f"{'llama.cpp MB/s':>15} {'ratio':>6}")
    for name, data in texts():
        path = os.path.join(tmp, name + ".txt")
        with open(path, "wb") as f:
            f.write(data)
        for m in MODELS:
            mp = os.path.join(d, m)
            hs = [hone_run(mp, path) for _ in range(runs)]
            hn = hs[0][0]
            ht = statistics.median(s for _, s in hs)
            llm = llama_cpp.Llama(model_path=mp, vocab_only=True, verbose=False, n_threads=1)
            vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
            cap = len(data) + 8
            buf = (llama_cpp.llama_token * cap)()
            lt = []
            for _ in range(runs):
                t0 = time.perf_counter()
                ln = llama_cpp.llama_tokenize(vocab, data, len(data), buf, cap, False, False)
                lt.append(time.perf_counter() - t0)
            ls = statistics.median(lt)
            del llm
            flag = "" if ln == hn else f"  TOKEN COUNT DIFFERS (hone {hn}, llama.cpp {ln})"
            print(f"{name:4} {m:34} {len(data):8d} {hn:7d} {len(data) / ht / 1e6:10.2f} "
                  f"{len(data) / ls / 1e6:15.2f} {ls / ht:6.2f}{flag}")
        os.remove(path)
    os.rmdir(tmp)
    print("ratio = hone speed / llama.cpp speed")


if __name__ == "__main__":
    ctypes  # noqa: B018 (ctypes arrays come through llama_cpp)
    main()
