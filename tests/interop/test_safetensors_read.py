"""test_safetensors_read.py: hone's safetensors reader against the PyPI package.

The `safetensors` package writes small files (F32, F16, BF16, F64, I8..I64, U8,
BOOL; 0-d to 4-d shapes; __metadata__) and a sharded set with a
model.safetensors.index.json; build/tools/st_dump reads them with hone and
prints every tensor's dtype, shape, shard, offset, size and every element.
The script compares all of it with what the package wrote (header parsed by
the package's own safe_open for names/shapes/dtypes/metadata, the numpy arrays
for values). Tolerance: none. f16/bf16/f32 values widen exactly to double and
are printed as C99 hex floats; bf16 is written from the high 16 bits of
float32 values and the expected value is those bits shifted back.
Also checks that a corrupted copy and an index naming a missing shard fail
with a one-line error that names the file.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors._safetensors_rust import TensorSpec, serialize_file
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DUMP = os.path.join(ROOT, "build", "tools", "st_dump")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def dump(path):
    r = subprocess.run([DUMP, path], capture_output=True, text=True)
    return r


def parse_dump(text):
    meta, tensors, cur = {}, {}, None
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "meta":
            k, _, v = rest.partition(" ")
            meta[k] = v
        elif kind == "tensor":
            name, dt, shape, shard, off, nb = rest.split(" ")
            cur = dict(dtype=dt, shape=[] if shape == "-" else [int(x) for x in shape.split(",")],
                       shard=int(shard), offset=int(off), nbytes=int(nb))
            tensors[name] = cur
        elif kind == "values":
            cur["values"] = rest.split() if rest else []
    return meta, tensors


def decode(vals, dtype):
    if dtype in ("F16", "BF16", "F32", "F64"):
        return np.array([float.fromhex(v) for v in vals], dtype=np.float64)
    return np.array([int(v) for v in vals], dtype=np.int64)


rng = np.random.default_rng(1234)
tmp = tempfile.mkdtemp(prefix="hone-st-")
try:
    # ---- one file, many dtypes and shapes
    arrs = {
        "w.f32": rng.standard_normal((3, 5)).astype(np.float32),
        "w.f16": (rng.standard_normal((2, 3, 4)) * 100).astype(np.float16),
        "w.f64": rng.standard_normal((7,)),
        "scalar.f32": np.array(3.25, dtype=np.float32),
        "w.i8": rng.integers(-128, 127, (4, 4), dtype=np.int8),
        "w.i16": rng.integers(-30000, 30000, (5,), dtype=np.int16),
        "w.i32": rng.integers(-2**31, 2**31 - 1, (2, 2), dtype=np.int32),
        "w.i64": rng.integers(-2**62, 2**62, (3,), dtype=np.int64),
        "w.u8": rng.integers(0, 255, (1, 2, 3, 2), dtype=np.uint8),
        "mask.bool": rng.integers(0, 2, (6,)).astype(np.bool_),
        "empty.f32": np.zeros((0, 4), dtype=np.float32),
        "w.f16.special": np.array([0.0, -0.0, 6e-8, 65504, np.inf, -np.inf], dtype=np.float16),
    }
    meta = {"format": "pt", "note": "hone interop test", "unicode": "caf\u00e9 \u2713"}
    single = os.path.join(tmp, "single.safetensors")
    save_file(arrs, single, metadata=meta)

    r = dump(single)
    if r.returncode != 0:
        fail(f"st_dump {single}: {r.stderr}")
    else:
        got_meta, got = parse_dump(r.stdout)
        if got_meta != meta:
            fail(f"metadata {got_meta} vs {meta}")
        with safe_open(single, framework="numpy") as f:
            names = sorted(f.keys())
            if sorted(got) != names:
                fail(f"tensor names {sorted(got)} vs {names}")
            for n in names:
                ref = f.get_tensor(n)
                g = got[n]
                if g["shape"] != list(ref.shape):
                    fail(f"{n}: shape {g['shape']} vs {list(ref.shape)}")
                if g["nbytes"] != ref.nbytes:
                    fail(f"{n}: nbytes {g['nbytes']} vs {ref.nbytes}")
                vals = decode(g["values"], g["dtype"])
                want = ref.astype(np.float64 if ref.dtype.kind == "f" else np.int64).ravel()
                if vals.shape != want.shape or not np.array_equal(vals, want):
                    fail(f"{n}: values differ: {vals[:5]} vs {want[:5]}")
        print(f"single file: {len(arrs)} tensors (F32/F16/F64/I8..I64/U8/BOOL, 0-d..4-d, empty), "
              f"{len(meta)} metadata keys: all equal")

    # ---- bf16, written by the package's serializer from float32 high halves
    f32 = rng.standard_normal((4, 6)).astype(np.float32)
    bf = (f32.view(np.uint32) >> 16).astype(np.uint16)
    bfpath = os.path.join(tmp, "bf16.safetensors")
    serialize_file({"w.bf16": TensorSpec(dtype="bfloat16", shape=bf.shape, data_ptr=bf.ctypes.data,
                                         data_len=bf.nbytes)}, bfpath, {"dtype": "bf16"})
    r = dump(bfpath)
    if r.returncode != 0:
        fail(f"st_dump {bfpath}: {r.stderr}")
    else:
        _, got = parse_dump(r.stdout)
        g = got["w.bf16"]
        want = (bf.astype(np.uint32) << 16).view(np.float32).astype(np.float64).ravel()
        if g["dtype"] != "BF16" or g["shape"] != [4, 6] or not np.array_equal(decode(g["values"], "BF16"), want):
            fail(f"bf16: {g['dtype']} {g['shape']} values differ")
        else:
            print("bf16 file: 24 values equal")

    # ---- sharded folder with an index
    folder = os.path.join(tmp, "sharded")
    os.makedirs(folder)
    shard_of, all_arrs = {}, {}
    for s, names in enumerate([["a.weight", "b.weight"], ["c.weight", "d.bias"]]):
        part = {n: rng.standard_normal((s + 2, 3)).astype(np.float32) for n in names}
        fname = f"model-{s + 1:05d}-of-00002.safetensors"
        save_file(part, os.path.join(folder, fname), metadata={"format": "pt"})
        for n in names:
            shard_of[n] = fname
        all_arrs.update(part)
    index = {"metadata": {"total_size": sum(a.nbytes for a in all_arrs.values())}, "weight_map": shard_of}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f)
    r = dump(folder)
    if r.returncode != 0:
        fail(f"st_dump {folder}: {r.stderr}")
    else:
        _, got = parse_dump(r.stdout)
        if sorted(got) != sorted(all_arrs):
            fail(f"sharded names {sorted(got)} vs {sorted(all_arrs)}")
        for n, a in all_arrs.items():
            g = got.get(n)
            if not g:
                continue
            want_shard = 0 if shard_of[n].startswith("model-00001") else 1
            with safe_open(os.path.join(folder, shard_of[n]), framework="numpy") as f:
                ok = np.array_equal(f.get_tensor(n), a)
            if (g["shard"] != want_shard or g["shape"] != list(a.shape) or not ok or
                    not np.array_equal(decode(g["values"], "F32"), a.astype(np.float64).ravel())):
                fail(f"sharded {n}: {g}")
        print(f"sharded folder: {len(all_arrs)} tensors in 2 shards via the index: all equal")

    # ---- errors: truncated copy, index naming a missing shard
    bad = os.path.join(tmp, "truncated.safetensors")
    with open(single, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:-10])
    r = dump(bad)
    if r.returncode == 0 or "truncated.safetensors" not in r.stderr or "past the data section" not in r.stderr:
        fail(f"truncated file: rc {r.returncode}, stderr {r.stderr!r}")
    os.remove(os.path.join(folder, "model-00002-of-00002.safetensors"))
    r = dump(folder)
    if r.returncode == 0 or "model-00002-of-00002.safetensors" not in r.stderr or "missing" not in r.stderr:
        fail(f"missing shard: rc {r.returncode}, stderr {r.stderr!r}")
    if not failures:
        print("errors: truncated file and missing shard rejected with messages naming them")
finally:
    shutil.rmtree(tmp)

if failures:
    print(f"{len(failures)} mismatches")
    sys.exit(1)
print("safetensors read vs PyPI safetensors: all equal")
