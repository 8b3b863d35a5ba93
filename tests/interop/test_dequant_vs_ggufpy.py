"""Every tensor of both real models, dequantized by hone (build/tools/dequant_dump)
and by gguf-py (gguf.quants.dequantize), must be BIT-identical: the comparison is
np.array_equal on the uint32 views, so -0.0 vs 0.0 or a different NaN payload fails
too. No tolerance: hone's dequantizers use gguf-py's order of float operations and
fp16 -> f32 is exact, so any difference is a bug.

Prints, per model and tensor type, how many tensors and elements were compared.
Skips (exit 0 with a message) when a model is absent; fails if neither is present
only when HONE_REQUIRE_MODELS=1."""
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build", "tools", "dequant_dump")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
FILES = ["gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"]


def check_model(path):
    reader = GGUFReader(path)
    fd, dump = tempfile.mkstemp(prefix="hone-dequant-", suffix=".f32", dir="/tmp")
    os.close(fd)
    bad = []
    stats = defaultdict(lambda: [0, 0])  # type -> [tensors, elements]
    try:
        subprocess.run([TOOL, "dump", path, dump], check=True)
        ours = np.memmap(dump, dtype=np.float32, mode="r")
        off = 0
        for t in reader.tensors:
            n = int(t.n_elements)
            mine = ours[off:off + n]
            off += n
            ref = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32).ravel()
            if ref.size != n or not np.array_equal(mine.view(np.uint32), ref.view(np.uint32)):
                diff = np.nonzero(mine.view(np.uint32) != ref.view(np.uint32))[0] if ref.size == n else []
                first = int(diff[0]) if len(diff) else -1
                bad.append(f"{t.name} ({t.tensor_type.name}): {len(diff)} of {n} elements differ"
                           + (f", first at {first}: hone {mine[first]!r} gguf-py {ref[first]!r}" if first >= 0 else
                              f", sizes {n} vs {ref.size}"))
            st = stats[t.tensor_type.name]
            st[0] += 1
            st[1] += n
        if off != ours.size:
            bad.append(f"dump has {ours.size} floats, tensors have {off}")
        del ours
    finally:
        os.unlink(dump)
    name = os.path.basename(path)
    for ty in sorted(stats):
        print(f"  {name}: {ty:5s} {stats[ty][0]:4d} tensors, {stats[ty][1]:10d} elements bit-identical"
              if not any(f"({ty})" in b for b in bad) else f"  {name}: {ty} MISMATCH")
    return bad


# Synthetic blocks for the formats the two models lack (and all others hone
# dequantizes): random bytes, with each fp16 scale field set to a random finite
# fp16 value (|v| < 4) so products stay finite; F16/BF16 get every bit pattern
# at random, NaN and inf included (the result is compared as bits, so NaN
# payloads must match too).
SYNTH_FP16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
    "F16": [], "BF16": [],
}


def check_synthetic():
    from gguf import GGMLQuantizationType, GGML_QUANT_SIZES
    rng = np.random.default_rng(1234)
    bad = []
    for name, fields in SYNTH_FP16_FIELDS.items():
        qt = GGMLQuantizationType[name]
        bsize, tsize = GGML_QUANT_SIZES[qt]
        nblk = 4096 // bsize if bsize > 1 else 4096
        raw = rng.integers(0, 256, size=(nblk, tsize), dtype=np.uint8)
        for off in fields:
            h = (rng.standard_normal(nblk).astype(np.float32) * 1.5).astype(np.float16)
            raw[:, off:off + 2] = h.view(np.uint8).reshape(nblk, 2)
        fd, qpath = tempfile.mkstemp(prefix="hone-synth-", suffix=".q", dir="/tmp")
        os.close(fd)
        opath = qpath + ".f32"
        try:
            raw.tofile(qpath)
            subprocess.run([TOOL, "dequant", name, qpath, opath], check=True)
            mine = np.fromfile(opath, dtype=np.float32)
        finally:
            os.unlink(qpath)
            if os.path.exists(opath):
                os.unlink(opath)
        ref = np.ascontiguousarray(dequantize(raw.reshape(-1), qt), dtype=np.float32).ravel()
        ok = ref.size == mine.size and np.array_equal(mine.view(np.uint32), ref.view(np.uint32))
        print(f"  synthetic {name:5s}: {nblk} blocks, {mine.size} elements "
              + ("bit-identical" if ok else "MISMATCH"))
        if not ok:
            bad.append(f"synthetic {name}")
    return bad


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built (make tests-bin)")
        return 1
    failures, ran = check_synthetic(), 0
    for f in FILES:
        path = os.path.join(MODELS, f)
        if not os.path.exists(path):
            print(f"SKIP {f}: not found in {MODELS} (run `make models`)")
            continue
        ran += 1
        failures += check_model(path)
    for b in failures:
        print("FAIL", b)
    if ran == 0 and os.environ.get("HONE_REQUIRE_MODELS") == "1":
        print("FAIL: no model found")
        return 1
    print(f"dequantize vs gguf-py: {ran} model(s), {len(failures)} mismatching tensor(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
