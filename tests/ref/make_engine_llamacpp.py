#!/usr/bin/env python3
"""make_engine_llamacpp.py: the llama.cpp references of the inference engine (issue 4),
through llama-cpp-python's low-level API (the C functions, no high-level sampler).

Writes, under tests/fixtures/engine/ (layout: tests/fixtures/engine/README.md):
  greedy_llamacpp.json  per real model, the 5 prompts of engine_prompts.py tokenized by
                        llama.cpp (its own BOS rule, special tokens parsed), then 64 greedy
                        tokens (argmax of the last logits, first index on ties; stops early
                        only at an end-of-generation token), with the top-1/top-2 logit margin
                        llama.cpp saw at each step; plus, where make_engine_fixture.py's
                        meta.json is present, llama.cpp's top-1 at every position of the
                        transformers token ids and its agreement with transformers' top-1.
  ppl_llamacpp.json     llama.cpp's perplexity (tools/perplexity/perplexity.cpp, default
                        path, one sequence per pass) of ppl_text.txt with n_ctx 512: per-chunk
                        NLL sums and the final PPL. The rule is written into the file.

Needs llama-cpp-python and numpy only (e.g. ~/.cache/hone/venv-llama). Never downloads.

  python tests/ref/make_engine_llamacpp.py [--models DIR (default $HONE_MODELS)]
         [--out tests/fixtures/engine] [--only greedy|ppl] [--threads 2]
"""
import argparse
import ctypes
import json
import math
import os
import sys

import numpy as np
import llama_cpp as L

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engine_prompts  # noqa: E402

REAL = [("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma3"),
        ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "llama")]
N_GEN = 64
PPL_CTX = 512


@L.llama_log_callback
def _quiet(level, text, user_data):
    pass


class Runner:
    """One model + one context (one sequence), decoding through llama_decode."""

    def __init__(self, path, n_ctx, n_threads):
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama.cpp cannot load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = 512
        cp.n_ubatch = 512
        cp.n_threads = n_threads
        cp.n_threads_batch = n_threads
        self.params = {"n_ctx": n_ctx, "n_batch": 512, "n_ubatch": 512, "n_threads": n_threads,
                       "flash_attn_type": int(cp.flash_attn_type), "swa_full": bool(cp.swa_full),
                       "type_k": int(cp.type_k), "type_v": int(cp.type_v)}
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.batch = L.llama_batch_init(512, 0, 1)
        self.n_past = 0

    def close(self):
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)

    def tokenize(self, text, add_special, parse_special):
        b = text.encode("utf-8")
        buf = (L.llama_token * (len(b) + 16))()
        n = L.llama_tokenize(self.vocab, b, len(b), buf, len(buf), add_special, parse_special)
        assert n >= 0
        return [int(buf[i]) for i in range(n)]

    def piece(self, tok):
        """The bytes of one token (special tokens rendered); may be part of a character."""
        buf = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, tok, buf, len(buf), 0, True)
        return buf.raw[:max(n, 0)]

    def reset(self):
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        self.n_past = 0

    def decode(self, tokens, want):
        """Appends tokens (<= 512) at n_past; want(k) says whether token k gets logits.
        Returns {k: logits (vocab,) float32 copy}."""
        b = self.batch
        n = len(tokens)
        assert 0 < n <= 512
        for k, t in enumerate(tokens):
            b.token[k] = t
            b.pos[k] = self.n_past + k
            b.n_seq_id[k] = 1
            b.seq_id[k][0] = 0
            b.logits[k] = 1 if want(k) else 0
        b.n_tokens = n
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            raise SystemExit(f"llama_decode returned {rc}")
        out = {}
        for k in range(n):
            if want(k):
                p = L.llama_get_logits_ith(self.ctx, k)
                out[k] = np.ctypeslib.as_array(p, shape=(self.n_vocab,)).copy()
        self.n_past += n
        return out

    def eval_all(self, ids):
        """Logits (T, vocab) of every position, from a fresh sequence."""
        self.reset()
        rows = []
        for s in range(0, len(ids), 512):
            got = self.decode(ids[s:s + 512], lambda k: True)
            rows += [got[k] for k in range(len(got))]
        return np.stack(rows)


def greedy(models_dir, out_root, n_threads):
    res = {"llama_cpp_python": L.__version__, "system_info": L.llama_print_system_info().decode(),
           "n_gen": N_GEN, "rule": (
               "ids = llama_tokenize(text, add_special=True (adds BOS iff the GGUF says so), "
               "parse_special=True); prompt decoded in batches of <= 512 tokens, logits of the "
               "last one; then repeat: next = argmax(logits) (first index on ties), "
               "margin = top1 logit - top2 logit, stop after n_gen tokens or after an "
               "end-of-generation token (llama_vocab_is_eog, which is kept in 'tokens'), "
               "else decode [next]."), "models": {}}
    for name, fname, arch in REAL:
        path = os.path.join(models_dir, fname)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found")
            continue
        r = Runner(path, 2048, n_threads)
        add_bos = bool(L.llama_vocab_get_add_bos(r.vocab))
        entry = {"model_file": fname, "arch": arch, "add_bos": add_bos, "context": r.params,
                 "prompts": []}
        for p, (pname, text) in enumerate(engine_prompts.prompts(arch)):
            ids = r.tokenize(text, True, True)
            r.reset()
            last = None
            for s in range(0, len(ids), 512):
                chunk = ids[s:s + 512]
                last = r.decode(chunk, lambda k, n=len(chunk): k == n - 1)[len(chunk) - 1]
            toks, margins, top2 = [], [], []
            finish = "length"
            for step in range(N_GEN):
                i1 = int(np.argmax(last))
                tmp = last.copy()
                tmp[i1] = -np.inf
                i2 = int(np.argmax(tmp))
                toks.append(i1)
                top2.append(i2)
                margins.append(float(last[i1] - last[i2]))
                if L.llama_vocab_is_eog(r.vocab, i1):
                    finish = "eog"
                    break
                last = r.decode([i1], lambda k: True)[0]
            textout = b"".join(r.piece(t) for t in toks).decode("utf-8", errors="replace")
            entry["prompts"].append({"name": pname, "text": text, "ids": ids, "T": len(ids),
                                     "tokens": toks, "top2_ids": top2, "margins": margins,
                                     "finish": finish, "output_text": textout})
            print(f"{name} p{p} {pname}: T={len(ids)} {len(toks)} tokens ({finish}), "
                  f"min margin {min(margins):.3f}: {textout[:70]!r}")
        # Top-1 agreement with transformers on transformers' own token ids, if present.
        meta_path = os.path.join(out_root, name, "meta.json")
        if os.path.exists(meta_path):
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
            agree = []
            for p, mp in enumerate(meta["prompts"]):
                lg = r.eval_all(mp["ids"])
                top1 = lg.argmax(axis=1).tolist()
                same = sum(int(a == b) for a, b in zip(top1, mp["top1"]))
                srt = np.sort(lg, axis=1)
                tl = np.fromfile(os.path.join(out_root, name, mp["logits_file"]), dtype="<f4")
                rel = float(np.linalg.norm(lg[-1] - tl) / np.linalg.norm(tl))
                agree.append({"name": mp["name"], "T": mp["T"], "top1": top1, "same": same,
                              "last_logits_rel_l2": rel,
                              "tokenization_equal": mp["ids"] == entry["prompts"][p]["ids"],
                              "margins": (srt[:, -1] - srt[:, -2]).round(4).tolist()})
                print(f"{name} p{p}: llama.cpp vs transformers top-1 {same}/{mp['T']}, "
                      f"last logits rel L2 {rel:.4f}, "
                      f"same tokenization: {agree[-1]['tokenization_equal']}")
            tot = sum(a["T"] for a in agree)
            entry["transformers_agreement"] = {
                "what": "llama.cpp top-1 (argmax of its logits) at every position of the "
                        "transformers fixture's ids, vs meta.json top1; margins = llama.cpp "
                        "top1-top2 logit gap per position; last_logits_rel_l2 = "
                        "|llama.cpp - transformers| / |transformers| of the last position's "
                        "logits (pP.logits.f32)",
                "same": sum(a["same"] for a in agree), "total": tot, "prompts": agree}
        res["models"][name] = entry
        r.close()
    with open(os.path.join(out_root, "greedy_llamacpp.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, ensure_ascii=False)


PPL_RULE = (
    "llama.cpp tools/perplexity/perplexity.cpp, perplexity() (default, ppl_stride 0): "
    "tokens = tokenize(whole file, add_special=True, parse_special=False) (BOS in front iff "
    "the GGUF's add_bos); n_chunk = floor(len(tokens) / n_ctx); chunk i covers "
    "tokens[i*n_ctx, (i+1)*n_ctx), evaluated from an empty KV cache at positions 0..n_ctx-1, "
    "its first token replaced by BOS when add_bos (the stored tokens are not changed); "
    "first = n_ctx/2; for j in [first, n_ctx-1): nll_j = -log softmax(logits[j])"
    "[tokens[i*n_ctx + j + 1]] (log-sum-exp in double over float logits); each chunk adds "
    "n_ctx-1-first = 255 (for n_ctx 512) scored tokens; PPL = exp(sum of all nll / count). "
    "Tokens after the last full chunk are not used. Here one sequence per pass, "
    "n_batch = n_ubatch = n_ctx = 512 (llama-perplexity -c 512 -b 512).")


def ppl(models_dir, out_root, n_threads):
    with open(engine_prompts.PPL_TEXT, encoding="utf-8") as f:
        text = f.read()
    res = {"llama_cpp_python": L.__version__, "text_file": "ppl_text.txt", "n_ctx": PPL_CTX,
           "rule": PPL_RULE, "models": {}}
    for name, fname, arch in REAL:
        path = os.path.join(models_dir, fname)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found")
            continue
        r = Runner(path, PPL_CTX, n_threads)
        add_bos = bool(L.llama_vocab_get_add_bos(r.vocab))
        bos = L.llama_vocab_bos(r.vocab)
        tokens = r.tokenize(text, True, False)
        n_chunk = len(tokens) // PPL_CTX
        first = PPL_CTX // 2
        chunks, nll, count = [], 0.0, 0
        for i in range(n_chunk):
            start = i * PPL_CTX
            seq = tokens[start:start + PPL_CTX]
            if add_bos:
                seq = [bos] + seq[1:]
            r.reset()
            lg = r.decode(seq, lambda k: k >= first)
            s = 0.0
            for j in range(first, PPL_CTX - 1):
                x = lg[j]
                mx = float(x.max())
                lse = mx + math.log(float(np.exp((x - mx).astype(np.float32),
                                                 dtype=np.float32).astype(np.float64).sum()))
                s += lse - float(x[tokens[start + j + 1]])
            nll += s
            count += PPL_CTX - 1 - first
            chunks.append({"chunk": i, "nll_sum": s, "n_scored": PPL_CTX - 1 - first,
                           "running_ppl": math.exp(nll / count)})
            print(f"{name} chunk {i}: nll {s:.4f} running ppl {math.exp(nll / count):.4f}")
        res["models"][name] = {"model_file": fname, "add_bos": add_bos, "bos": int(bos),
                               "n_tokens": len(tokens), "tokens": tokens, "n_chunk": n_chunk, "count": count,
                               "nll_total": nll, "ppl": math.exp(nll / count),
                               "context": r.params, "chunks": chunks}
        print(f"{name}: {len(tokens)} tokens, {n_chunk} chunks, PPL {math.exp(nll / count):.4f}")
        r.close()
    with open(os.path.join(out_root, "ppl_llamacpp.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.environ.get("HONE_MODELS", ""))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "fixtures", "engine"))
    ap.add_argument("--only", choices=["greedy", "ppl"])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if not a.models:
        sys.exit("set --models or HONE_MODELS")
    L.llama_log_set(_quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    if a.only != "ppl":
        greedy(a.models, a.out, a.threads)
    if a.only != "greedy":
        ppl(a.models, a.out, a.threads)


if __name__ == "__main__":
    main()
