"""hone's reference quantizers against llama.cpp's, on real Gemma 3 270M weights.

For the tensors of tests/interop/test_quant_rmse.py (first 2^18 elements of five
tensors, dequantized to f32 by gguf-py), quantize with
  - hone: build/tools/dequant_dump quant TYPE (hone_quantize + hone_dequantize),
  - llama.cpp: ggml_quantize_chunk(type, ..., imatrix=NULL) from the libggml that
    the PyPI package llama-cpp-python builds (for K-quants without an importance
    matrix that is quantize_row_*_ref), dequantized with the type's to_float,
and print both RMSEs and the share of blocks whose bytes are identical.

Runs in the reference venv (numpy, gguf); libggml is loaded with ctypes from
~/.cache/hone/venv-llama (override: HONE_LLAMA_VENV). If that venv is missing it
is created and llama-cpp-python installed into it (builds llama.cpp: minutes; set
CMAKE_BUILD_PARALLEL_LEVEL to limit the cores). Usage:
    $(bash scripts/pyenv.sh) bench/quant_vs_llamacpp.py
"""
import ctypes
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "build", "tools", "dequant_dump")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
VENV = os.environ.get("HONE_LLAMA_VENV", os.path.expanduser("~/.cache/hone/venv-llama"))

MAX_ELEMS = 1 << 18
TENSORS = ["token_embd.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight",
           "blk.0.ffn_down.weight", "blk.6.attn_output.weight"]
# ggml type ids (ggml.h enum ggml_type), block size, bytes per block
TYPES = {"Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
         "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110), "Q4_K": (12, 256, 144),
         "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210)}


class TypeTraits(ctypes.Structure):  # struct ggml_type_traits (ggml.h)
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64)


def find_libggml():
    libs = glob.glob(os.path.join(VENV, "lib", "python3*", "site-packages", "llama_cpp", "lib",
                                  "libggml-base.so"))
    if libs:
        return libs[0]
    print(f"llama-cpp-python not found in {VENV}: installing (builds llama.cpp, takes minutes)")
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "1"))
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "numpy", "llama-cpp-python"],
                   check=True, env=env)
    return find_libggml()


def load_tensors():
    r = GGUFReader(GEMMA)
    by_name = {t.name: t for t in r.tensors}
    for name in TENSORS:
        t = by_name[name]
        rows = -(-MAX_ELEMS // int(t.shape[0]))
        x = np.ascontiguousarray(dequantize(t.data[:rows], t.tensor_type), dtype=np.float32).ravel()
        yield name, t.tensor_type.name, np.ascontiguousarray(x[:MAX_ELEMS])


def hone_roundtrip(x, tname):
    d = tempfile.mkdtemp(prefix="hone-qbench-", dir="/tmp")
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


def ggml_roundtrip(lib, x, tid, block, bytes_):
    n = x.size
    q = np.zeros(n // block * bytes_, dtype=np.uint8)
    lib.ggml_quantize_chunk(tid, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                           q.ctypes.data_as(ctypes.c_void_p), 0, n // block, block, None)
    tr = lib.ggml_get_type_traits(tid).contents
    y = np.zeros(n, dtype=np.float32)
    TO_FLOAT(tr.to_float)(q.ctypes.data_as(ctypes.c_void_p),
                          y.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), n)
    return q, y


def rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"{TOOL} not built: run `make tests-bin`")
        return 1
    if not os.path.exists(GEMMA):
        print(f"{GEMMA} not found: run `make models`")
        return 1
    libpath = find_libggml()
    lib = ctypes.CDLL(libpath, mode=ctypes.RTLD_GLOBAL)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    print(f"llama.cpp: {libpath}")
    print(f"{'tensor':26s} {'type':5s} {'hone rmse':>12s} {'llama rmse':>12s} {'hone/llama':>10s} "
          f"{'same blocks':>12s}")
    worst = {}
    for name, src, x in load_tensors():
        for tname, (tid, block, bytes_) in TYPES.items():
            hq, hy = hone_roundtrip(x, tname)
            lq, ly = ggml_roundtrip(lib, x, tid, block, bytes_)
            eh, el = rmse(x, hy), rmse(x, ly)
            same = np.all(hq.reshape(-1, bytes_) == lq.reshape(-1, bytes_), axis=1)
            ratio = eh / el if el > 0 else (1.0 if eh == 0 else float("inf"))
            worst[tname] = max(worst.get(tname, 0), ratio)
            print(f"{name:26s} {tname:5s} {eh:12.6g} {el:12.6g} {ratio:10.6f} "
                  f"{same.sum():6d}/{same.size:<6d}")
    print("worst hone/llama.cpp RMSE ratio per type: "
          + ", ".join(f"{k} {v:.6f}" for k, v in worst.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
