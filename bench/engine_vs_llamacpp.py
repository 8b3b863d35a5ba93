#!/usr/bin/env python3
"""engine_vs_llamacpp.py: prompt processing (pp) and generation (tg) tokens/s of
hone and llama.cpp on the same GGUF, same thread count, in one run.

  ~/.cache/hone/venv-llama/bin/python bench/engine_vs_llamacpp.py [MODELS_DIR] [REPS]

llama.cpp side: llama-cpp-python's Llama (a native build of llama.cpp) driven like
llama-bench: ppN = N tokens evaluated from an empty context in one batch of N;
tgN = N tokens evaluated one at a time from an empty context. hone side:
`hone bench` (the same definitions, see its --help). Each test: one warm-up, then
REPS timed runs; the median is reported. Token ids are random (seeded) in-vocabulary
ids, as llama-bench uses. Threads: 2 (this machine has 2 cores).

The runs are interleaved: REPS rounds, each one `hone bench -r 1` (its own warm-up
and one timed run of pp and tg) then one timed pp and tg of llama.cpp (model loaded
and warmed up once), so a change of the machine's load (it is shared) hits both sides
alike. The load average is printed before and after.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import time

import llama_cpp

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODELS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models")
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
# HONE_BENCH_THREADS overrides the thread count (1: no thread handoffs, the fair
# choice when other processes crowd the 2 cores: llama.cpp's spinning barriers then
# took minutes per run)
THREADS, PP, TG = int(os.environ.get("HONE_BENCH_THREADS", "2")), 512, 128


def llama_side(path):
    """Returns (pp, tg): functions that each time one run, after one warm-up each."""
    llm = llama_cpp.Llama(model_path=path, n_ctx=PP + TG + 16, n_batch=PP, n_ubatch=PP,
                          n_threads=THREADS, n_threads_batch=THREADS, verbose=False)
    rng = random.Random(0)
    nv = llm.n_vocab()
    toks = [rng.randrange(10, nv) for _ in range(PP)]

    def pp():
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        t = time.perf_counter()
        llm.eval(toks)
        return PP / (time.perf_counter() - t)

    def tg():
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        t = time.perf_counter()
        for i in range(TG):
            llm.eval([toks[i]])
        return TG / (time.perf_counter() - t)

    pp()  # warm-up
    tg()
    return {"pp%d" % PP: pp, "tg%d" % TG: tg}


def hone_once(path):
    """One `hone bench` run (its own warm-up, then one timed run per test): {test: t/s}."""
    r = subprocess.run([os.path.join(ROOT, "build", "hone"), "bench", "-m", path, "-p", str(PP),
                        "-n", str(TG), "-t", str(THREADS), "-r", "1", "--json"],
                       capture_output=True, text=True, check=True)
    out = {}
    for t in json.loads(r.stdout):
        name = t.get("test") or t.get("name")
        vals = t.get("samples_ts") or t.get("runs_ts")
        out[name] = statistics.median(vals) if vals else t.get("avg_ts") or t.get("mean_ts")
    return out


def main():
    print("threads %d; load average before: %.2f %.2f %.2f" % ((THREADS,) + os.getloadavg()))
    print("model | test | hone t/s | llama.cpp t/s | hone/llama.cpp | hone runs | llama.cpp runs")
    for f in ("gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"):
        path = os.path.join(MODELS, f)
        if not os.path.exists(path):
            print("skip %s: not found" % f)
            continue
        lfn = llama_side(path)
        runs = {k: ([], []) for k in lfn}
        for _ in range(REPS):
            h = hone_once(path)
            for k in lfn:
                runs[k][0].append(h[k])
                runs[k][1].append(lfn[k]())
        for k, (hv, lv) in runs.items():
            hm, lm = statistics.median(hv), statistics.median(lv)
            print("%s | %s | %.1f | %.1f | %.2f | %s | %s" % (f, k, hm, lm, hm / lm, " ".join("%.1f" % v for v in hv),
                                                          " ".join("%.1f" % v for v in lv)))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
