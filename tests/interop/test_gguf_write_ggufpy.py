"""GGUF files written by hone, checked with gguf-py (the reference GGUF implementation).

1. demo: build/tools/gguf_write_tool writes a small file with every value type, alignment 64
   and four tensors; gguf-py's GGUFWriter writes the same content. The two files must be
   byte-identical, and GGUFReader must read hone's file back with the expected types/values.
2. round trip: the tool copies Gemma 3 270M (hone reader -> hone writer); GGUFReader reads
   original and copy, and every field (order, name, types, raw value bytes) and every tensor
   (name, type, shape, bytes) must be identical. Skipped (with a message) without the model.
   (SmolLM2 is round-tripped byte for byte by tests/unit/test_gguf_write.c; parsing its 49k
   and Gemma's 262k token strings in Python costs ~10 s per reader, so only Gemma runs here.)
All comparisons are exact: the writer copies bytes, there is no arithmetic to tolerate.
Exit status non-zero on any mismatch.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGUFReader, GGUFWriter, GGUFValueType as VT, GGMLQuantizationType as QT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build", "tools", "gguf_write_tool")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("MISMATCH:", what)


def ref_demo(path):
    """The same content as gguf_write_tool.c's demo(), written by gguf-py."""
    w = GGUFWriter(path, "llama")
    w.add_uint8("demo.u8", 200)
    w.add_int8("demo.i8", -100)
    w.add_uint16("demo.u16", 60000)
    w.add_int16("demo.i16", -30000)
    w.add_uint32("demo.u32", 3000000000)
    w.add_int32("demo.i32", -2000000000)
    w.add_uint64("demo.u64", 10000000000000000000)
    w.add_int64("demo.i64", -4000000000000)
    w.add_float32("demo.f32", 0.1)
    w.add_float64("demo.f64", 0.1)
    w.add_bool("demo.bool", True)
    w.add_string("demo.str", "café")
    w.add_key_value("demo.arr_u16", [1, 2, 65535], VT.ARRAY, sub_type=VT.UINT16)
    w.add_key_value("demo.arr_i64", [-5, 1 << 40], VT.ARRAY, sub_type=VT.INT64)
    w.add_key_value("demo.arr_f32", [0.5, -1.25, 3e-8], VT.ARRAY, sub_type=VT.FLOAT32)
    w.add_key_value("demo.arr_f64", [1e100, -0.0], VT.ARRAY, sub_type=VT.FLOAT64)
    w.add_key_value("demo.arr_bool", [True, False], VT.ARRAY, sub_type=VT.BOOL)
    w.add_key_value("demo.arr_i8", [-1, 2, -3], VT.ARRAY, sub_type=VT.INT8)
    w.add_array("demo.arr_str", ["<pad>", "héllo", "", "\u2581world"])
    w.add_custom_alignment(64)
    w.add_tensor("t.f32", (np.arange(12, dtype=np.float32) / 8 - 0.75).reshape(3, 4))
    w.add_tensor("t.f16", np.array([0x3C00, 0xC000, 0, 0x7BFF, 0x0400], np.uint16).view(np.float16))
    q8 = ((np.arange(68) * 29 + 3) % 256).astype(np.uint8).reshape(2, 34)
    w.add_tensor("t.q8_0", q8, raw_dtype=QT.Q8_0)
    w.add_tensor("t.i32", np.array([1, -2, 3, -4, 5, -6, 7, -8], np.int32).reshape(2, 2, 2))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def field_value(f):
    """(types, list of values) of a ReaderField, decoded for readable comparisons."""
    if f.types[0] == VT.STRING:
        return f.types, [bytes(f.parts[-1]).decode("utf-8")]
    if f.types[0] == VT.ARRAY and f.types[-1] == VT.STRING:
        return f.types, [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    return f.types, [f.parts[i].tolist() for i in f.data]


def test_demo(tmp):
    hone_path = os.path.join(tmp, "hone_demo.gguf")
    ref_path = os.path.join(tmp, "ref_demo.gguf")
    subprocess.run([TOOL, "demo", hone_path], check=True)
    ref_demo(ref_path)
    a, b = open(hone_path, "rb").read(), open(ref_path, "rb").read()
    check(a == b, f"demo: hone's file ({len(a)} bytes) differs from gguf-py's ({len(b)} bytes)")
    r = GGUFReader(hone_path)
    expect = {
        "demo.u8": ([VT.UINT8], [[200]]), "demo.i8": ([VT.INT8], [[-100]]),
        "demo.u16": ([VT.UINT16], [[60000]]), "demo.i16": ([VT.INT16], [[-30000]]),
        "demo.u32": ([VT.UINT32], [[3000000000]]), "demo.i32": ([VT.INT32], [[-2000000000]]),
        "demo.u64": ([VT.UINT64], [[10000000000000000000]]), "demo.i64": ([VT.INT64], [[-4000000000000]]),
        "demo.f32": ([VT.FLOAT32], [[float(np.float32(0.1))]]), "demo.f64": ([VT.FLOAT64], [[0.1]]),
        "demo.bool": ([VT.BOOL], [[True]]), "demo.str": ([VT.STRING], ["café"]),
        "demo.arr_u16": ([VT.ARRAY, VT.UINT16], [[1], [2], [65535]]),
        "demo.arr_i64": ([VT.ARRAY, VT.INT64], [[-5], [1 << 40]]),
        "demo.arr_f32": ([VT.ARRAY, VT.FLOAT32], [[0.5], [-1.25], [float(np.float32(3e-8))]]),
        "demo.arr_f64": ([VT.ARRAY, VT.FLOAT64], [[1e100], [-0.0]]),
        "demo.arr_bool": ([VT.ARRAY, VT.BOOL], [[True], [False]]),
        "demo.arr_i8": ([VT.ARRAY, VT.INT8], [[-1], [2], [-3]]),
        "demo.arr_str": ([VT.ARRAY, VT.STRING], ["<pad>", "héllo", "", "\u2581world"]),
        "general.alignment": ([VT.UINT32], [[64]]),
    }
    for k, (types, vals) in expect.items():
        f = r.fields.get(k)
        check(f is not None, f"demo: key {k} missing")
        if f is not None:
            check(field_value(f) == (types, vals), f"demo: {k} = {field_value(f)}, expected {(types, vals)}")
    check(r.alignment == 64, f"demo: alignment {r.alignment}")
    names = [t.name for t in r.tensors]
    check(names == ["t.f32", "t.f16", "t.q8_0", "t.i32"], f"demo: tensors {names}")
    t = r.tensors[0]
    check(t.tensor_type == QT.F32 and list(t.shape) == [4, 3] and
          np.array_equal(np.asarray(t.data).ravel(), np.arange(12, dtype=np.float32) / 8 - 0.75),
          "demo: t.f32 differs")
    t = r.tensors[2]
    check(t.tensor_type == QT.Q8_0 and list(t.shape) == [32, 2] and
          bytes(np.asarray(t.data)) == bytes(((np.arange(68) * 29 + 3) % 256).astype(np.uint8)),
          "demo: t.q8_0 differs")
    print(f"demo: {len(r.fields)} fields, {len(r.tensors)} tensors; hone file == gguf-py file: {a == b}")


def test_roundtrip(tmp, model):
    src = os.path.join(MODELS, model)
    if not os.path.exists(src):
        print(f"SKIP round trip: {src} not found (run `make models`)")
        return
    out = os.path.join(tmp, "rt_" + model)
    subprocess.run([TOOL, "copy", src, out], check=True)
    ra, rb = GGUFReader(src), GGUFReader(out)
    check(list(ra.fields) == list(rb.fields), f"{model}: field names/order differ")
    nf = 0
    for k, fa in ra.fields.items():
        fb = rb.fields.get(k)
        if fb is None:
            continue
        same = fa.types == fb.types and len(fa.parts) == len(fb.parts) and \
            all(bytes(x) == bytes(y) for x, y in zip(fa.parts, fb.parts))
        check(same, f"{model}: field {k} differs")
        nf += same
    check(len(ra.tensors) == len(rb.tensors), f"{model}: tensor count")
    nt = 0
    for ta, tb in zip(ra.tensors, rb.tensors):
        same = (ta.name == tb.name and ta.tensor_type == tb.tensor_type and
                list(ta.shape) == list(tb.shape) and ta.n_bytes == tb.n_bytes and
                ta.data_offset == tb.data_offset and bytes(np.asarray(ta.data)) == bytes(np.asarray(tb.data)))
        check(same, f"{model}: tensor {ta.name} differs")
        nt += same
    sa, sb = os.path.getsize(src), os.path.getsize(out)
    check(sa == sb, f"{model}: size {sb} != original {sa}")
    print(f"{model}: {nf}/{len(ra.fields)} fields and {nt}/{len(ra.tensors)} tensors identical "
          f"under gguf-py; size {sb} (original {sa})")
    os.unlink(out)


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: {TOOL} not built (make tests-bin)")
        return 1
    with tempfile.TemporaryDirectory(prefix="hone-gw-") as tmp:
        test_demo(tmp)
        test_roundtrip(tmp, "gemma-3-270m-q4_k_m.gguf")
    print("gguf writer vs gguf-py:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
