"""safetensors files written by hone, checked with the PyPI `safetensors` package (0.8).

Tensors are made here with numpy (random values, every dtype hone offers, shapes of rank 0 to
4, an empty one, a non-ASCII name, one streamed through a fill callback) and handed to
build/tools/st_write_tool as raw bytes plus a manifest. Checks, all exact (the writer copies
bytes; nothing to tolerate):
1. single file: byte-identical to safetensors.serialize_file of the same tensors and metadata
   (same header JSON, same ordering, same space padding); safe_open(framework="numpy") reads
   every non-bf16 tensor back equal in dtype, shape and values; bf16 tensors (numpy has no
   bf16) are compared as raw bytes at the header's data_offsets; every tensor starts at a
   multiple of its element size; load_file reads a bf16-free file back equal.
2. shards: the partition follows huggingface_hub's split_state_dict_into_shards_factory rule
   (re-stated below, since huggingface_hub is not in the venv); each shard is byte-identical
   to serialize_file of its subset; the index holds total_size and the full weight_map, in
   transformers' text format (indent 2, sorted keys); every
   tensor loads back from its shard.
Exit status non-zero on any mismatch.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import TensorSpec, safe_open, serialize_file
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build", "tools", "st_write_tool")
failures = []
NP = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
      "I16": np.int16, "I32": np.int32, "I64": np.int64, "BF16": np.uint16}
SPEC_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
              "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("MISMATCH:", what)


def make(rng, dt, shape):
    if dt == "BF16":  # upper halves of random float32s
        f = rng.standard_normal(shape).astype(np.float32)
        return (f.view(np.uint32) >> 16).astype(np.uint16)
    if dt.startswith("F"):
        return rng.standard_normal(shape).astype(NP[dt])
    info = np.iinfo(NP[dt])
    return rng.integers(info.min, info.max, size=shape, dtype=NP[dt], endpoint=True)


def write_manifest(tmp, tensors, meta, tag):
    lines = [f"meta {k} {v}" for k, v in meta.items()]
    for i, (name, dt, arr) in enumerate(tensors):
        raw = os.path.join(tmp, f"{tag}_{i}.bin")
        arr.tofile(raw)
        lines.append(f"tensor {name} {dt} {arr.ndim} {' '.join(map(str, arr.shape))} {raw}")
    path = os.path.join(tmp, tag + ".manifest")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def reference_file(path, tensors, meta):
    specs = {name: TensorSpec(dtype=SPEC_DTYPE[dt], shape=list(a.shape), data_ptr=a.ctypes.data,
                              data_len=a.nbytes) for name, dt, a in tensors}
    serialize_file(specs, path, metadata=meta or None)


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


def check_file(path, tensors, meta, tag):
    """Reads path with the reference reader and compares every tensor to the input."""
    n, hdr = header(path)
    check((8 + n) % 8 == 0, f"{tag}: header length {n} leaves the data unaligned")
    with safe_open(path, framework="numpy") as f:
        check(f.metadata() == (meta or None), f"{tag}: metadata {f.metadata()} != {meta}")
        check(sorted(f.keys()) == sorted(t[0] for t in tensors), f"{tag}: names {sorted(f.keys())}")
        for name, dt, a in tensors:
            e = hdr[name]
            check(e["dtype"] == dt and e["shape"] == list(a.shape), f"{tag}: {name} header {e}")
            b, end = e["data_offsets"]
            check((8 + n + b) % a.itemsize == 0, f"{tag}: {name} starts at an unaligned offset")
            if dt == "BF16":
                with open(path, "rb") as raw:
                    raw.seek(8 + n + b)
                    got = raw.read(end - b)
                check(got == a.tobytes(), f"{tag}: bf16 tensor {name} bytes differ")
            else:
                t = f.get_tensor(name)
                check(t.dtype == a.dtype and t.shape == a.shape and t.tobytes() == a.tobytes(),
                      f"{tag}: tensor {name} differs")


def hf_shards(tensors, max_bytes):
    """huggingface_hub's split_state_dict_into_shards_factory: greedy in order; a tensor over
    the limit becomes a shard of its own when met; the open shard is appended when closed."""
    shards, cur, size = [], [], 0
    for t in tensors:
        nb = t[2].nbytes
        if nb > max_bytes:
            shards.append([t])
            continue
        if size + nb > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += nb
    if cur:
        shards.append(cur)
    return shards


def run_tool(*args):
    r = subprocess.run([TOOL, *args], check=True, capture_output=True, text=True)
    return int(r.stdout.strip())


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built (make tests-bin)")
        return 1
    rng = np.random.default_rng(20261127)
    spec = [("model.embed_tokens.weight", "F32", (7, 5)), ("layers.0.mlp.w", "F16", (3, 4, 2)),
            ("layers.0.norm", "BF16", (9,)), ("lm.bf16", "BF16", (4, 6)), ("scalar", "F32", ()),
            ("empty", "F32", (0, 3)), ("ids", "I32", (4,)), ("big.i64", "I64", (2, 3)),
            ("d", "F64", (3,)), ("b", "I8", (5,)), ("s16", "I16", (3,)),
            ("stream.w", "F32", (33, 17)), ("stream.h", "BF16", (2, 1, 3, 5)), ("h\u00e9llo.w", "F16", (2,))]
    tensors = [(n, dt, make(rng, dt, sh)) for n, dt, sh in spec]
    meta = {"format": "pt"}
    with tempfile.TemporaryDirectory(prefix="hone-stw-") as tmp:
        # 1. one file
        out, ref = os.path.join(tmp, "hone.safetensors"), os.path.join(tmp, "ref.safetensors")
        run_tool(write_manifest(tmp, tensors, meta, "single"), out)
        reference_file(ref, tensors, meta)
        a, b = open(out, "rb").read(), open(ref, "rb").read()
        check(a == b, f"single: hone's file ({len(a)} bytes) differs from serialize_file's ({len(b)})")
        check_file(out, tensors, meta, "single")
        plain = [t for t in tensors if t[1] != "BF16"]
        out2 = os.path.join(tmp, "plain.safetensors")
        run_tool(write_manifest(tmp, plain, {}, "plain"), out2)
        got = load_file(out2)
        check(set(got) == {t[0] for t in plain} and
              all(got[n].dtype == x.dtype and got[n].shape == x.shape and np.array_equal(got[n], x)
                  for n, _, x in plain), "plain: load_file result differs")
        print(f"single: {len(tensors)} tensors, {len(a)} bytes, identical to serialize_file: {a == b}; "
              f"load_file on the bf16-free file: {len(got)} tensors equal")

        # 2. shards: sizes chosen so the rule opens, closes and isolates shards
        sizes = [("s.a", "F32", (25, 4)), ("s.b", "F16", (150,)), ("s.c", "BF16", (50, 2)),
                 ("s.big", "F32", (300,)), ("s.d", "F32", (60,)), ("s.e", "F16", (100,)),
                 ("s.f", "F32", (250,)), ("s.g", "BF16", (4,))]
        st = [(n, dt, make(rng, dt, sh)) for n, dt, sh in sizes]
        max_bytes = 1000
        d = os.path.join(tmp, "shards")
        os.mkdir(d)
        ns = run_tool(write_manifest(tmp, st, meta, "shard"), d, str(max_bytes), "model")
        expect = hf_shards(st, max_bytes)
        check(ns == len(expect), f"shards: {ns} written, expected {len(expect)}")
        names = [f"model-{i + 1:05d}-of-{len(expect):05d}.safetensors" for i in range(len(expect))]
        check(sorted(os.listdir(d)) == sorted(names + ["model.safetensors.index.json"]),
              f"shards: files {sorted(os.listdir(d))}")
        index_text = open(os.path.join(d, "model.safetensors.index.json"), encoding="utf-8").read()
        index = json.loads(index_text)
        want_map = {t[0]: names[i] for i, sh in enumerate(expect) for t in sh}
        want = {"metadata": {"total_size": sum(t[2].nbytes for t in st)}, "weight_map": want_map}
        check(index == want, f"shards: index {index}")
        # transformers' save_pretrained writes json.dumps(index, indent=2, sort_keys=True) + "\n"
        check(index_text == json.dumps(want, indent=2, sort_keys=True) + "\n",
              "shards: index text differs from transformers' formatting")
        same = 0
        for i, sh in enumerate(expect):
            p = os.path.join(d, names[i])
            if not os.path.exists(p):
                continue
            r = os.path.join(tmp, f"ref_shard{i}.safetensors")
            reference_file(r, sh, meta)
            ok = open(p, "rb").read() == open(r, "rb").read()
            check(ok, f"shards: {names[i]} differs from serialize_file of its tensors")
            same += ok
            check_file(p, sh, meta, names[i])
        print(f"shards: {ns} (expected {len(expect)}: {[[t[0] for t in s] for s in expect]}), "
              f"{same} byte-identical to serialize_file, index ok: {index.get('weight_map') == want_map}")
    print("safetensors writer vs safetensors", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
