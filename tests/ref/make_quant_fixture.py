#!/usr/bin/env python3
"""make_quant_fixture.py: writes tests/fixtures/quant/ for tests/unit/test_quant.c:
  input.f32    4096 floats (16 super-blocks of 256), little-endian, built below
               from a fixed seed: Gaussian, tiny, large, all-positive, all-negative,
               zero and constant sub-blocks, sparse, values on a half-integer grid
               (rounding ties), sub-block scales over 4 decades, skewed data;
  TYPE.bin     llama.cpp's quantization of input.f32 for TYPE in Q4_0 Q4_1 Q5_0
               Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K: ggml_quantize_chunk(type, ...,
               imatrix NULL), i.e. ggml's quantize_row_*_ref (Q8_K, which
               ggml_quantize_chunk does not take: quantize_row_q8_K_ref itself), from the libggml that the PyPI package llama-cpp-python
               builds, loaded with ctypes.
The unit test asserts hone_quantize gives the same bytes.

Run with the reference venv's python (numpy); llama-cpp-python must be installed
in ~/.cache/hone/venv-llama (bench/quant_vs_llamacpp.py installs it) or in the
venv named by HONE_LLAMA_VENV:
    $(bash scripts/pyenv.sh) tests/ref/make_quant_fixture.py
"""
import ctypes
import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "quant")
VENV = os.environ.get("HONE_LLAMA_VENV", os.path.expanduser("~/.cache/hone/venv-llama"))
TYPES = {"Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
         "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q4_K": (12, 256, 144),
         "Q3_K": (11, 256, 110), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210),
         "Q8_K": (15, 256, 292)}


def make_input():
    rng = np.random.default_rng(20261127)
    g = lambda n=256: rng.standard_normal(n)
    sb = [
        g(),                                                   # 0 plain Gaussian
        0.01 * g() * np.where(rng.random(256) < 0.03, 8, 1),   # 1 small, with outliers
        rng.uniform(0.5, 2.0, 256),                            # 2 all positive (min > 0)
        -rng.uniform(0.1, 3.0, 256),                           # 3 all negative
        np.concatenate([np.zeros(32), g(224)]),                # 4 a zero sub-block
        np.concatenate([g(64), np.full(32, 0.37), g(160)]),    # 5 a constant sub-block
        1e-6 * g(),                                            # 6 tiny (fp16 scale subnormal)
        100.0 * g(),                                           # 7 large
        g() * np.repeat(10.0 ** rng.integers(-2, 2, 16), 16),  # 8 group scales over 4 decades
        g() * (rng.random(256) < 0.1),                         # 9 sparse
        np.round(4 * g()) / 2,                                 # 10 half-integer grid (ties)
        rng.exponential(1.0, 256),                             # 11 skewed, positive
        rng.exponential(1.0, 256) - 0.2,                       # 12 skewed, small negative tail
        0.05 * g(),                                            # 13 weight-like
        np.linspace(-1, 1, 256),                               # 14 ramp
        g() * np.repeat(rng.uniform(0.2, 5, 8), 32),           # 15 uneven sub-block scales
    ]
    return np.concatenate(sb).astype(np.float32)


def main():
    libs = glob.glob(os.path.join(VENV, "lib", "python3*", "site-packages", "llama_cpp", "lib",
                                  "libggml-base.so"))
    if not libs:
        print(f"llama-cpp-python not found in {VENV} (run bench/quant_vs_llamacpp.py once)")
        return 1
    lib = ctypes.CDLL(libs[0], mode=ctypes.RTLD_GLOBAL)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    x = make_input()
    os.makedirs(OUT, exist_ok=True)
    x.tofile(os.path.join(OUT, "input.f32"))
    for name, (tid, block, nbytes) in TYPES.items():
        q = np.zeros(x.size // block * nbytes, dtype=np.uint8)
        xp = x.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if name == "Q8_K":
            lib.quantize_row_q8_K_ref.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_void_p,
                                                  ctypes.c_int64]
            lib.quantize_row_q8_K_ref(xp, q.ctypes.data_as(ctypes.c_void_p), x.size)
        else:
            got = lib.ggml_quantize_chunk(tid, xp, q.ctypes.data_as(ctypes.c_void_p), 0,
                                          x.size // block, block, None)
            assert got == q.size, (name, got, q.size)
        q.tofile(os.path.join(OUT, f"{name}.bin"))
        print(f"wrote {name}.bin ({q.size} bytes)")
    print(f"from {libs[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
