"""export_vs_llamacpp.py: hone's re-quantization against llama.cpp's, and fuse + export memory.

For Gemma 3 270M and SmolLM2-135M ($HONE_MODELS):
  1. f16 = `hone convert --outtype f16` of the shipped GGUF (checked elsewhere to be exactly
     float16(dequantized source): tests/interop/test_export_gguf.py, HONE_TEST_FULL=1);
  2. from that same f16 file: hone's Q8_0 and Q4_K_M (`hone convert --outtype ...`) and
     llama.cpp's (llama_model_quantize through llama-cpp-python, default params: no imatrix);
  3. side by side: file size, tensors whose bytes are identical / whose types differ
     (gguf-py), and perplexity of tests/fixtures/engine/ppl_text.txt at n_ctx 512 with BOTH
     engines (hone perplexity; llama.cpp through make_engine_llamacpp.py's ppl rule) on every
     file, so the quantizations are compared by the same engine.
  4. peak RSS (GNU time's "Maximum resident set size") of `hone fuse` of Gemma 3 270M Q4_K_M
     with a random rank-8 adapter on q/v/down of every layer -> GGUF f16 and -> GGUF q4_k_m;
     RSS counts the pages of the mapped source file that were read.
Runs in the reference venv; llama.cpp parts run under ~/.cache/hone/venv-llama's python.
    HONE_MODELS=... $(bash scripts/pyenv.sh) bench/export_vs_llamacpp.py [--chunks N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HONE = os.path.join(ROOT, "build", "hone")
LLAMA_PY = os.path.expanduser(os.environ.get("HONE_LLAMA_PY", "~/.cache/hone/venv-llama/bin/python"))
TEXT = os.path.join(ROOT, "tests", "fixtures", "engine", "ppl_text.txt")
MODELS = [("gemma3-270m", "gemma-3-270m-q4_k_m.gguf"), ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")]

LLAMA_HELPER = r'''
import json, math, sys, os, ctypes
import numpy as np
import llama_cpp as L
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "ref"))
from make_engine_llamacpp import Runner, _quiet
L.llama_log_set(_quiet, ctypes.c_void_p(0))
L.llama_backend_init()
cmd = sys.argv[2]
if cmd == "quantize":
    src, dst, ftype = sys.argv[3], sys.argv[4], int(sys.argv[5])
    p = L.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    rc = L.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    print(json.dumps({"rc": rc}))
elif cmd == "ppl":
    path, text_file, n_ctx, max_chunks = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    text = open(text_file, encoding="utf-8").read()
    r = Runner(path, n_ctx, 2)
    add_bos = bool(L.llama_vocab_get_add_bos(r.vocab)); bos = L.llama_vocab_bos(r.vocab)
    tokens = r.tokenize(text, True, False)
    n_chunk = len(tokens) // n_ctx
    if max_chunks: n_chunk = min(n_chunk, max_chunks)
    first = n_ctx // 2; nll = 0.0; count = 0
    for i in range(n_chunk):
        start = i * n_ctx; seq = tokens[start:start + n_ctx]
        if add_bos: seq = [bos] + seq[1:]
        r.reset()
        lg = r.decode(seq, lambda k: k >= first)
        for j in range(first, n_ctx - 1):
            x = lg[j].astype(np.float64); mx = x.max()
            nll += mx + math.log(np.exp(x - mx).sum()) - x[tokens[start + j + 1]]
        count += n_ctx - 1 - first
    print(json.dumps({"ppl": math.exp(nll / count), "count": count}))
'''


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    return r


def llama(helper, *args):
    return json.loads(run([LLAMA_PY, helper, ROOT, *args]).stdout.strip().splitlines()[-1])


def hone_ppl(path, chunks):
    args = [HONE, "perplexity", "--model", path, "--file", TEXT, "--ctx", "512", "--json"]
    if chunks:
        args += ["--chunks", str(chunks)]
    return json.loads(run(args).stdout)["ppl"]


def compare_tensors(a, b):
    import gguf
    ta = {t.name: t for t in gguf.GGUFReader(a).tensors}
    tb = {t.name: t for t in gguf.GGUFReader(b).tensors}
    same = sum(1 for n in ta if n in tb and ta[n].tensor_type == tb[n].tensor_type
               and ta[n].data.tobytes() == tb[n].data.tobytes())
    tdiff = [n for n in ta if n in tb and ta[n].tensor_type != tb[n].tensor_type]
    return same, len(ta), tdiff


def peak_rss(cmd):
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr[-1500:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    t = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr)
    return int(m.group(1)) / 1024, t.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=0, help="perplexity chunks (0: all)")
    a = ap.parse_args()
    models = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
    tmp = tempfile.mkdtemp(prefix="hone-bench-export-")
    helper = os.path.join(tmp, "llama_helper.py")
    open(helper, "w").write(LLAMA_HELPER)
    rows = []
    for name, f in MODELS:
        src = os.path.join(models, f)
        if not os.path.exists(src):
            print(f"skip {name}: {src} not found")
            continue
        f16 = os.path.join(tmp, f"{name}-f16.gguf")
        run([HONE, "convert", "--model", src, "--outfile", f16, "--outtype", "f16"])
        rows.append((name, "f16 (hone)", os.path.getsize(f16), hone_ppl(f16, a.chunks),
                     llama(helper, "ppl", f16, TEXT, "512", str(a.chunks))["ppl"], ""))
        for ty, ftype in (("q8_0", 7), ("q4_k_m", 15)):
            h = os.path.join(tmp, f"{name}-{ty}-hone.gguf")
            l = os.path.join(tmp, f"{name}-{ty}-llama.gguf")
            run([HONE, "convert", "--model", f16, "--outfile", h, "--outtype", ty])
            if llama(helper, "quantize", f16, l, str(ftype))["rc"] != 0:
                raise SystemExit(f"llama_model_quantize {ty} failed")
            same, n, tdiff = compare_tensors(h, l)
            note = f"{same}/{n} tensors byte-identical" + (f", types differ: {tdiff[:3]}" if tdiff else "")
            for who, p in (("hone", h), ("llama.cpp", l)):
                rows.append((name, f"{ty} ({who})", os.path.getsize(p), hone_ppl(p, a.chunks),
                             llama(helper, "ppl", p, TEXT, "512", str(a.chunks))["ppl"], note if who == "hone" else ""))
    print(f"\nperplexity of ppl_text.txt, n_ctx 512{', %d chunks' % a.chunks if a.chunks else ''}")
    print(f"{'model':14} {'file':20} {'bytes':>11} {'PPL hone':>9} {'PPL llama.cpp':>13}  note")
    for r in rows:
        print(f"{r[0]:14} {r[1]:20} {r[2]:11d} {r[3]:9.4f} {r[4]:13.4f}  {r[5]}")

    gem = os.path.join(models, "gemma-3-270m-q4_k_m.gguf")
    if os.path.exists(gem):
        sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
        from test_export_gguf import make_random_adapter
        ad = os.path.join(tmp, "adapter")
        make_random_adapter(gem, ad)
        print("\npeak memory of hone fuse (Gemma 3 270M Q4_K_M, 252 MB file, + rank-8 q/v/down adapter):")
        for ty in ("f16", "q4_k_m"):
            out = os.path.join(tmp, f"fused-{ty}.gguf")
            rss, wall = peak_rss([HONE, "fuse", "--model", gem, "--adapter-path", ad, "--no-hf", "--export-gguf",
                                  "--gguf-type", ty, "--gguf-path", out])
            print(f"  -> GGUF {ty:7}: peak RSS {rss:7.1f} MiB, wall {wall}, output {os.path.getsize(out) / 2**20:.1f} MiB")
        hf = os.path.join(tmp, "fused-hf")
        rss, wall = peak_rss([HONE, "fuse", "--model", gem, "--adapter-path", ad, "--save-path", hf])
        print(f"  -> HF folder (f16 + tokenizer.json): peak RSS {rss:7.1f} MiB, wall {wall}")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
