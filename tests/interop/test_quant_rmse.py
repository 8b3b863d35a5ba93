"""hone's quantizers on real weights, against gguf-py's quantizers.

Input: five real tensors of the Gemma 3 270M file, dequantized to f32 by gguf-py
(quantization grids of several source formats: Q8_0, Q5_0, Q6_K, Q4_K),
flattened, the first 2^18 elements of each.
Each is quantized by hone (build/tools/dequant_dump quant) and dequantized back.

- Where gguf-py has a quantizer (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) hone
  implements the same arithmetic (ggml's *_ref), so the quantized BYTES must be
  identical; the RMSE of both round trips is printed and must then be equal too.
  (No tolerance is needed: identical bytes give identical dequantized floats,
  which tests/interop/test_dequant_vs_ggufpy.py checks bit for bit.)
- For K-quants gguf-py has no quantizer: hone's RMSE is printed per tensor and
  bounded by the gguf-py-verified 32-element format of the same kind:
    Q4_K <= Q4_1 and Q5_K <= Q5_1: same bits per weight and both fit a min, but the
      K-quant adds the min/scale search (which starts from Q4_1/Q5_1's min/max
      grid and keeps only grids with lower weighted error); its 6-bit sub-block
      scales cost at most 1/126 of a step.
    Q6_K <= 0.65 x Q5_1: twice the levels (64 over [-amax, amax], 2*amax about
      the range) halve the step; 16-element groups have smaller ranges; the
      8-bit group scales cost at most 1/256 of a step; 0.65 leaves room for
      the symmetric grid wasting part of its range on skewed groups.
    Q3_K <= 2 x Q4_0: both symmetric grids through the largest magnitude; 3 bits
      (levels -4..3) double Q4_0's step (-8..7) over a comparable range (16- vs
      32-element groups: smaller ranges), and the level search only lowers it.
    Q2_K <= 4.5 x Q4_0: 3 steps over a 16-element range (about 3.5 sigma for
      Gaussian weights, step ~1.2 sigma) against Q4_0's amax/8 (amax of 32
      Gaussians ~2.1 sigma, step ~0.26 sigma): ~4.5x the step before the search,
      which only lowers the error.
  bench/quant_vs_llamacpp.py compares K-quant RMSE with llama.cpp's reference.
Skips when the Gemma file is absent."""
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as QT
from gguf.quants import dequantize, quantize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build", "tools", "dequant_dump")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")

MAX_ELEMS = 1 << 18  # per tensor, from its start: keeps the run short (a multiple of 256)
TENSORS = ["token_embd.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight",
           "blk.0.ffn_down.weight", "blk.6.attn_output.weight"]
GGUFPY_TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
K_TYPES = {"Q2_K": ("Q4_0", 4.5), "Q3_K": ("Q4_0", 2.0), "Q4_K": ("Q4_1", 1.0), "Q5_K": ("Q5_1", 1.0),
           "Q6_K": ("Q5_1", 0.65)}  # bound: factor x RMSE of that gguf-py-checked type


def load_tensors():
    r = GGUFReader(GEMMA)
    by_name = {t.name: t for t in r.tensors}
    out = []
    for name in TENSORS:
        t = by_name[name]
        rows = -(-MAX_ELEMS // int(t.shape[0]))  # t.data is (rows, row bytes): decode only these
        x = np.ascontiguousarray(dequantize(t.data[:rows], t.tensor_type), dtype=np.float32).ravel()
        x = x[:MAX_ELEMS]
        out.append((name, t.tensor_type.name, x))
    return out


def hone_roundtrip(x, tname):
    d = tempfile.mkdtemp(prefix="hone-qrmse-", dir="/tmp")
    paths = [os.path.join(d, f) for f in ("in.f32", "out.q", "out.f32")]
    try:
        x.tofile(paths[0])
        subprocess.run([TOOL, "quant", tname, *paths], check=True)
        return np.fromfile(paths[1], dtype=np.uint8), np.fromfile(paths[2], dtype=np.float32)
    finally:
        for p in paths:
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(d)


def rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built (make tests-bin)")
        return 1
    if not os.path.exists(GEMMA):
        print(f"SKIP: {GEMMA} not found (run `make models`)")
        return 0
    fails = []
    for name, src, x in load_tensors():
        print(f"{name} (from {src}, {x.size} elements, rms {rmse(x, 0 * x):.4g}):")
        base = {}
        for tname in GGUFPY_TYPES:
            qt = QT[tname]
            block = 256 if tname.endswith("_K") else 32
            ref_q = np.asarray(quantize(x.reshape(-1, block), qt)).view(np.uint8).ravel()
            ref_y = np.asarray(dequantize(ref_q, qt), dtype=np.float32).ravel() if tname != "F16" \
                else ref_q.view(np.float16).astype(np.float32)
            q, y = hone_roundtrip(x, tname)
            same = q.size == ref_q.size and np.array_equal(q, ref_q)
            e_h, e_r = rmse(x, y), rmse(x, ref_y)
            base[tname] = e_h
            print(f"  {tname:5s} hone rmse {e_h:.6g}  gguf-py rmse {e_r:.6g}  bytes "
                  + ("identical" if same else "DIFFER"))
            if not same:
                nd = int(np.count_nonzero(q != ref_q)) if q.size == ref_q.size else -1
                fails.append(f"{name} {tname}: {nd} bytes differ from gguf-py")
            if not (e_h <= e_r):
                fails.append(f"{name} {tname}: rmse {e_h} > gguf-py {e_r}")
        for tname, (other, factor) in K_TYPES.items():
            _, y = hone_roundtrip(x, tname)
            e_h = rmse(x, y)
            print(f"  {tname:5s} hone rmse {e_h:.6g}  ({e_h / base[other]:.3f} x {other}, bound {factor})")
            if not (e_h <= factor * base[other]):
                fails.append(f"{name} {tname}: rmse {e_h} > {factor} x {other} rmse {base[other]}")
    for f in fails:
        print("FAIL", f)
    print(f"quantize vs gguf-py: {len(TENSORS)} tensors, {len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
