"""test_engine_fixtures.py: the engine fixtures (tests/fixtures/engine/, written by
tests/ref/make_engine_fixture.py and make_engine_llamacpp.py) are whole and say what their
README says, checked from the files alone with numpy (+ safetensors, gguf-py):

- every meta.json prompt: pP.hidden.f32 holds T x hidden float32, pP.logits.f32 vocab
  float32, the last position's top-1/top-5 in meta.json match the logits file;
- hidden is the LM-head input in row order: hidden[t] @ W^T (W = the output matrix, read
  from model.safetensors for the tiny models, dequantized by gguf-py from the GGUF for the
  real ones when $HONE_MODELS has them) gives the logits file at t = T-1 and meta's top1
  at every t whose top-1/top-2 gap exceeds 1e-3. Tolerance: rel L2 <= 1e-5 (both sides
  are float32 dot products of <= 640 terms summed in different orders: ~1e-7 expected);
- greedy_llamacpp.json / ppl_llamacpp.json are self-consistent (lengths, sums, PPL).
"""
import json
import math
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "engine")
failures = []
REAL = {"gemma3-270m": "gemma-3-270m-q4_k_m.gguf", "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def output_matrix(name):
    d = os.path.join(FIX, name)
    if name.startswith("tiny-"):
        from safetensors.numpy import load_file
        t = load_file(os.path.join(d, "model.safetensors"))
        return t.get("lm_head.weight", t["model.embed_tokens.weight"])
    models = os.environ.get("HONE_MODELS", "")
    path = os.path.join(models, REAL[name])
    if not models or not os.path.exists(path):
        why = f"{path} not found" if models else "HONE_MODELS is not set"
        print(f"skip {name} LM-head check: {why}")
        return None
    import gguf
    r = gguf.GGUFReader(path)
    by = {t.name: t for t in r.tensors}
    t = by.get("output.weight", by["token_embd.weight"])
    return gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)


def check_dir(name):
    d = os.path.join(FIX, name)
    with open(os.path.join(d, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    D, V = meta["hidden_size"], meta["vocab_size"]
    W = output_matrix(name)
    if W is not None and W.shape != (V, D):
        fail(f"{name}: output matrix {W.shape}, expected {(V, D)}")
        W = None
    for p, e in enumerate(meta["prompts"]):
        T = e["T"]
        tag = f"{name}/p{p}"
        h = np.fromfile(os.path.join(d, e["hidden_file"]), dtype="<f4")
        lg = np.fromfile(os.path.join(d, e["logits_file"]), dtype="<f4")
        if h.size != T * D or lg.size != V:
            fail(f"{tag}: hidden {h.size} floats (want {T * D}), logits {lg.size} (want {V})")
            continue
        if len(e["ids"]) != T or len(e["top1"]) != T or len(e["top5_ids"]) != T:
            fail(f"{tag}: ids/top1/top5 lengths differ from T={T}")
        h = h.reshape(T, D)
        if not (np.isfinite(h).all() and np.isfinite(lg).all()):
            fail(f"{tag}: non-finite values")
        if int(np.argmax(lg)) != e["top1"][-1]:
            fail(f"{tag}: argmax of logits file {int(np.argmax(lg))} != meta top1 {e['top1'][-1]}")
        top5 = np.sort(lg)[::-1][:5]
        err5 = np.abs(top5 - np.array(e["top5_logits"][-1])).max()
        if err5 > 1e-4 * max(1.0, np.abs(lg).max()):
            fail(f"{tag}: top5 logits differ from the logits file by {err5}")
        if W is None:
            continue
        last = W @ h[-1]                                   # (V,) float32
        rel = np.linalg.norm(last - lg) / np.linalg.norm(lg)
        if not rel <= 1e-5:
            fail(f"{tag}: hidden[T-1] @ W^T vs logits file rel L2 {rel:.2e} > 1e-5")
        bad = []
        for s in range(0, T, 64):                          # (64, V) at a time
            full = h[s:s + 64] @ W.T
            top2 = np.partition(full, -2, axis=1)[:, -2:]
            gap = np.abs(top2[:, 1] - top2[:, 0])
            am = full.argmax(axis=1)
            bad += [s + k for k in range(len(am))
                    if gap[k] > 1e-3 and am[k] != e["top1"][s + k]]
        if bad:
            fail(f"{tag}: hidden @ W^T top1 differs from meta top1 at positions {bad[:10]}")
        print(f"ok {tag}: T={T} rel L2(last logits) {rel:.1e}, top1 ok at all clear positions")


def check_llamacpp():
    g = os.path.join(FIX, "greedy_llamacpp.json")
    with open(g, encoding="utf-8") as f:
        gr = json.load(f)
    for name, m in gr["models"].items():
        for e in m["prompts"]:
            n = len(e["tokens"])
            if not (0 < n <= gr["n_gen"]) or len(e["margins"]) != n or len(e["top2_ids"]) != n:
                fail(f"greedy {name}/{e['name']}: {n} tokens, {len(e['margins'])} margins")
            if any(x < 0 for x in e["margins"]) or (n < gr["n_gen"]) != (e["finish"] == "eog"):
                fail(f"greedy {name}/{e['name']}: negative margin or finish/length mismatch")
        print(f"ok greedy {name}: {len(m['prompts'])} prompts")
    with open(os.path.join(FIX, "ppl_llamacpp.json"), encoding="utf-8") as f:
        pp = json.load(f)
    for name, m in pp["models"].items():
        n_ctx = pp["n_ctx"]
        ok = (len(m["tokens"]) == m["n_tokens"] and m["n_chunk"] == m["n_tokens"] // n_ctx
              and m["n_tokens"] >= 4000 and len(m["chunks"]) == m["n_chunk"]
              and m["count"] == m["n_chunk"] * (n_ctx - 1 - n_ctx // 2))
        tot = sum(c["nll_sum"] for c in m["chunks"])
        ok = ok and abs(tot - m["nll_total"]) <= 1e-9 * abs(tot)
        ok = ok and abs(math.exp(tot / m["count"]) - m["ppl"]) <= 1e-9 * m["ppl"]
        if not ok:
            fail(f"ppl {name}: chunk/count/sum/PPL inconsistent")
        else:
            print(f"ok ppl {name}: {m['n_tokens']} tokens, {m['n_chunk']} chunks, PPL {m['ppl']:.4f}")


def main():
    names = sorted(n for n in os.listdir(FIX) if os.path.exists(os.path.join(FIX, n, "meta.json")))
    if len(names) < 6:
        fail(f"expected 6 fixture folders with meta.json, found {names}")
    for n in names:
        check_dir(n)
    check_llamacpp()
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
