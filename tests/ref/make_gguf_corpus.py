#!/usr/bin/env python3
"""make_gguf_corpus.py: writes tests/corpus/gguf/, hand-made GGUF files for the
reader's robustness tests, and its manifest EXPECTED.tsv.

The files are built byte by byte with the struct module from the GGUF layout
(the spec in ggml's docs/gguf.md; no GGUF library is used), so that each one is
wrong in exactly one, named way. EXPECTED.tsv has one line per file:

    NAME <TAB> EXPECT <TAB> BYTE

EXPECT is `ok` (the file must open) or a substring the one-line error message
must contain; BYTE is the file offset the message must name ("byte N"), or `-`
where this script does not state it. tests/unit/test_gguf_corrupt.c opens every
file and checks both; fuzz_gguf replays the folder as its seed corpus.

The expectations are written from the format, not copied from the reader's
output: a truncation's expected offset is where the cut field starts, and its
expected text is the field's name. Files found by fuzzing (fuzz-*.gguf) are
kept in the folder with a hand-written line in EXTRA below.

`--check` (with the reference venv's python) reads every `ok` file with gguf-py
(GGUFReader): it must accept it with the counts, names, types and shapes this
script wrote, and, when build/hone exists, `hone inspect` must print the same
version, counts and keys with their types. (Corrupt files are not fed to
gguf-py: it trusts counts and loops for ages on 2^63 of them.)

Run: python3 tests/ref/make_gguf_corpus.py [--check] [--out DIR]
      (rewrites the folder; deterministic)
"""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "gguf")

# value types (gguf_type)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
VT_NAMES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
            "string", "array", "uint64", "int64", "float64"]
VT_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# tensor types: id -> (name, block elements, block bytes), from ggml's type traits
DT = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
      6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
      10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
      13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
      16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
      19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
      22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
      26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
      30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
      39: ("MXFP4", 32, 17)}
IQ_TQ = [16, 17, 18, 19, 20, 21, 22, 23, 29, 34, 35]

U64MAX = 2**64 - 1


class G:
    """A GGUF file under construction; records where each field starts."""

    def __init__(self):
        self.b = bytearray()
        self.fields = []  # (label, start, end, expected text for a cut inside it)

    def put(self, data, label=None, expect=None):
        start = len(self.b)
        self.b += data
        if label:
            self.fields.append((label, start, len(self.b), expect or label))
        return start

    def u32(self, v, label=None, expect=None):
        return self.put(struct.pack("<I", v), label, expect)

    def u64(self, v, label=None, expect=None):
        return self.put(struct.pack("<Q", v), label, expect)

    def string(self, s, label=None, expect=None):
        s = s.encode() if isinstance(s, str) else s
        start = self.u64(len(s), label and label + "_len", expect)
        self.put(s, label and label + "_bytes", expect)
        return start

    def header(self, n_tensors, n_kv, version=3, magic=b"GGUF"):
        self.put(magic, "magic", 'magic "GGUF"')
        self.u32(version, "version", "version")
        self.u64(n_tensors, "n_tensors", "tensor count")
        self.u64(n_kv, "n_kv", "metadata count")

    def value(self, vt, v, label="value"):
        """A value of type vt (no type tag)."""
        if vt == STR:
            self.string(v, label + "_string", "string value")
        elif vt == ARR:
            et, items = v
            self.u32(et, label + "_arr_type", "array element type")
            self.u64(len(items), label + "_arr_len", "array length")
            if et == STR:
                for k, s in enumerate(items):
                    self.string(s, "%s_arr_str%d" % (label, k), "array string")
            else:
                data = b"".join(struct.pack(VT_FMT[et], x) for x in items)
                self.put(data, label + "_arr_data", "array data")
        else:
            self.put(struct.pack(VT_FMT[vt], v), label + "_scalar", "expected value of")

    def kv(self, key, vt, v, label="kv"):
        start = self.string(key, label + "_key", "metadata key")
        self.u32(vt, label + "_vtype", "value type")
        self.value(vt, v, label)
        return start

    def tensor(self, name, ne, ttype, offset, label="ti"):
        start = self.string(name, label + "_name", "tensor name")
        self.u32(len(ne), label + "_ndims", "tensor dimension count")
        for d, n in enumerate(ne):
            self.u64(n, "%s_ne%d" % (label, d), "tensor dimension")
        self.u32(ttype, label + "_type", "tensor type")
        self.u64(offset, label + "_offset", "tensor offset")
        return start

    def pad(self, align=32):
        n = (-len(self.b)) % align
        if n:
            self.put(b"\0" * n, "padding", "padding before tensor data")
        return len(self.b)

    def data(self, n, label="data"):
        return self.put(bytes((i * 7 + 1) & 0xFF for i in range(n)), label, "lies past the end")


def nbytes(ttype, ne):
    if not ne:
        return 0
    name, blk, bb = DT[ttype]
    rows = 1
    for n in ne[1:]:
        rows *= n
    return ne[0] // blk * bb * rows


def simple(kvs=(), tensors=(), version=3, align=32, n_tensors=None, n_kv=None, data=None):
    """A file from (key, vtype, value) and (name, ne, type, offset or None) lists;
    offsets None are laid out in order, aligned."""
    g = G()
    g.header(len(tensors) if n_tensors is None else n_tensors,
             len(kvs) if n_kv is None else n_kv, version)
    for i, (k, vt, v) in enumerate(kvs):
        g.kv(k, vt, v, "kv%d" % i)
    off, total = 0, 0
    for i, (name, ne, tt, o) in enumerate(tensors):
        if o is None:
            o = off
        g.tensor(name, ne, tt, o, "ti%d" % i)
        nb = nbytes(tt, ne) if tt in DT else 0
        off = o + nb
        off += (-off) % align
        total = max(total, o + nb)
    if tensors or data:
        g.pad(align)
        g.data(total if data is None else data)
    return g


CASES = []  # (name, bytes, expect, byte or None)


def add(name, data, expect="ok", at=None):
    data = bytes(data.b if isinstance(data, G) else data)
    CASES.append((name, data, expect, at))


SAMPLE = {U8: [0, 255], I8: [-128, 127], U16: [0, 65535], I16: [-32768, 32767],
          U32: [0, 2**32 - 1], I32: [-2**31, 2**31 - 1], F32: [1.5, -0.0],
          BOOL: [0, 1], U64: [0, U64MAX], I64: [-2**63, 2**63 - 1], F64: [3.25, 1e300],
          STR: ["", "héllo ✓ 🌍"]}


def valid_cases():
    # one file per value type and version: a scalar, an array of it, an empty array
    for version in (2, 3):
        for vt in list(SAMPLE):
            kvs = [("general.architecture", STR, "llama"),
                   ("test.scalar", vt, SAMPLE[vt][-1]),
                   ("test.array", ARR, (vt, SAMPLE[vt])),
                   ("test.empty_array", ARR, (vt, []))]
            add("ok-v%d-%s.gguf" % (version, VT_NAMES[vt]), simple(kvs))
    # a fuller file: several tensor types, shapes 1..4-D, explicit alignment
    kvs = [("general.architecture", STR, "llama"), ("general.alignment", U32, 32),
           ("llama.block_count", U32, 1), ("tokenizer.ggml.tokens", ARR, (STR, ["<s>", "a", "b"]))]
    ts = [("token_embd.weight", [32, 3], 8, None), ("output_norm.weight", [32], 0, None),
          ("blk.0.attn_q.weight", [256, 1, 1, 1], 12, None), ("t.f16", [2, 3, 4], 1, None),
          ("t.bf16", [4, 1, 2, 1], 30, None)]
    add("ok-v3-tensors.gguf", simple(kvs, ts))
    add("ok-v2-tensors.gguf", simple(kvs, ts, version=2))
    add("ok-empty-header.gguf", simple())  # 24 bytes: no metadata, no tensors
    add("ok-no-tensors-no-padding.gguf", simple([("a", U8, 1)]))  # ends before padding
    add("ok-align-64.gguf", simple([("general.alignment", U32, 64)],
                                   [("a", [8], 0, None), ("b", [8], 0, None)], align=64))
    add("ok-align-1.gguf", simple([("general.alignment", U32, 1)],
                                  [("a", [3], 24, 0), ("b", [5], 24, 3)], align=1))
    add("ok-zero-size-tensor.gguf", simple([], [("z", [0, 4], 0, 0), ("a", [4], 0, 0)]))
    add("ok-zero-dim-late.gguf", simple([], [("z", [4, 0, 2**40], 0, 0)]))
    add("ok-name-63.gguf", simple([], [("n" * 63, [1], 0, None)]))
    add("ok-key-with-nul.gguf", simple([("a\0b", U8, 1), ("a", U8, 2)]))
    add("ok-key-with-newline.gguf", simple([("a\nb", U8, 1)]))
    g = simple([], [("a", [4], 0, None)])
    pad = [f for f in g.fields if f[0] == "padding"][0]
    g.b[pad[1]:pad[2]] = b"\xaa" * (pad[2] - pad[1])
    add("ok-padding-nonzero-bytes.gguf", g)  # ggml does not check padding bytes
    # every type ggml defines opens, IQ*/TQ* included (dequant refuses them later)
    for tt in IQ_TQ + [39]:
        name, blk, bb = DT[tt]
        add("ok-type-%s.gguf" % name, simple([], [("w", [blk, 2], tt, None)]))
    add("ok-all-types.gguf", simple([], [("t%d" % tt, [DT[tt][1]], tt, None) for tt in DT]))


def truncations():
    """One reference file, cut at the start and in the middle of every field.
    A cut before the counts' minimum size is caught by the count check first."""
    g = G()
    kvs = [("general.name", STR, "x" * 96),  # long first value: cuts past it reach the fields
           ("k.u32", U32, 7), ("k.arr", ARR, (U16, [1, 2, 3])),
           ("k.strs", ARR, (STR, ["ab", "cde"])), ("general.alignment", U32, 32)]
    ts = [("w0", [4, 2], 0, 0), ("w1", [32], 8, 32)]
    n_kv, n_t = len(kvs), len(ts)
    g.header(n_t, n_kv)
    for i, (k, vt, v) in enumerate(kvs):
        g.kv(k, vt, v, "kv%d" % i)
    for i, (name, ne, tt, o) in enumerate(ts):
        g.tensor(name, ne, tt, o, "ti%d" % i)
    g.pad()
    g.data(32 + 34)
    full = bytes(g.b)
    add("ok-trunc-reference.gguf", full)

    arr_len_at = [f for f in g.fields if f[0] == "kv3_arr_len"][0][1]
    arr_end = arr_len_at + 8

    def expect_for(cut, label, start, what):
        left = cut - 24
        if cut >= 24 and left < 13 * n_kv:  # too short for the metadata count
            return "metadata count", 16
        if cut >= 24 and left < 32 * n_t:
            return "tensor count", 8
        if label.endswith("_arr_data"):  # checked at the array length
            return "array of 3 elements cannot fit", start - 8
        if "_arr_str" in label and cut - arr_end < 2 * 8:
            return "array of 2 strings cannot fit", arr_len_at
        if label == "data":
            # w0 (32 bytes at 0) fits when the cut is past it; w1 does not
            w = "w0" if cut < start + 32 else "w1"
            ti = [f for f in g.fields if f[0] == ("ti0_name_len" if w == "w0" else "ti1_name_len")][0]
            return "tensor '%s' data" % w, ti[1]
        # a cut inside a field is reported where the field starts (a string's
        # bytes are a field of their own, after the 8-byte length)
        return what, start

    seen = set()
    for label, start, end, what in g.fields:
        cuts = [start] if end - start == 1 else [start, (start + end) // 2]
        for cut in cuts:
            if cut in seen or cut == 0:
                continue
            seen.add(cut)
            exp, at = expect_for(cut, label, start, what)
            add("trunc-%04d-%s.gguf" % (cut, label), full[:cut], exp, at)
    add("trunc-0000-empty.gguf", b"", 'magic "GGUF"', 0)


def header_cases():
    add("magic-ggml.gguf", b"GGML" + bytes(20), "not a GGUF file", 0)
    add("magic-lowercase.gguf", b"gguf" + struct.pack("<IQQ", 3, 0, 0), "not a GGUF file", 0)
    add("magic-only.gguf", b"GGUF", "version", 4)
    add("version-1.gguf", b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "version 1 is not supported", 4)
    add("version-0.gguf", b"GGUF" + struct.pack("<IQQ", 0, 0, 0), "unsupported GGUF version 0", 4)
    add("version-4.gguf", b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "unsupported GGUF version 4", 4)
    add("version-big-endian-3.gguf", b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "byte-swapped", 4)
    add("version-big-endian-2.gguf", b"GGUF" + struct.pack(">IQQ", 2, 0, 0), "byte-swapped", 4)
    for name, v in (("2p64m1", U64MAX), ("2p63", 2**63), ("2p63m1", 2**63 - 1), ("2p32", 2**32)):
        add("n-kv-%s.gguf" % name, simple([("a", U8, 1)], n_kv=v), "metadata count", 16)
        add("n-tensors-%s.gguf" % name, simple([("a", U8, 1)], n_tensors=v), "tensor count", 8)
    # more keys announced than present, but few enough to pass the size check
    add("n-kv-one-too-many.gguf", simple([("a" * 20, U8, 1), ("b" * 20, U8, 1)], n_kv=3),
        "metadata key", 24 + 2 * 33)


def kv_cases():
    base = [("general.architecture", STR, "llama")]

    def one(name, key, vt, v, expect, at=None, extra=()):
        add(name, simple(base + [(key, vt, v)] + list(extra)), expect, at)

    off_kv1 = 24 + 8 + 20 + 4 + 8 + 5  # where the second key starts in `base + [...]`
    # lengths near 2^64 / 2^63
    for nm, L in (("2p64m1", U64MAX), ("2p63", 2**63), ("len-past-end", 1000)):
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.u64(L)
        g.put(b"abc" + bytes(10))
        add("key-len-%s.gguf" % nm, g, "metadata key of %d bytes" % L, off_kv1 + 8)
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.string("k")
        g.u32(STR)
        g.u64(L)
        g.put(b"abc")
        add("str-len-%s.gguf" % nm, g, "string value of %d bytes" % L, off_kv1 + 21)
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.string("k")
        g.u32(ARR)
        g.u32(U32)
        g.u64(L)
        g.put(bytes(16))
        add("arr-len-%s.gguf" % nm, g, "array of %d elements cannot fit" % L, off_kv1 + 17)
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.string("k")
        g.u32(ARR)
        g.u32(STR)
        g.u64(L)
        g.put(bytes(16))
        add("arr-strs-len-%s.gguf" % nm, g, "array of %d strings cannot fit" % L, off_kv1 + 17)
    # a string inside a string array whose length runs past the end
    g = simple(base)
    g.b[16:24] = struct.pack("<Q", 2)
    g.string("k")
    g.u32(ARR)
    g.u32(STR)
    g.u64(2)
    g.string("ok")
    g.u64(2**63)
    g.put(bytes(8))
    add("arr-str-elem-len-2p63.gguf", g, "array string of %d bytes" % 2**63, off_kv1 + 43)
    # unknown types
    for nm, vt in (("13", 13), ("255", 255), ("2p32m1", 2**32 - 1)):
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.string("k")
        g.u32(vt)
        g.put(bytes(16))
        add("vtype-unknown-%s.gguf" % nm, g, "unknown value type %d for key 'k'" % vt, off_kv1 + 9)
        g = simple(base)
        g.b[16:24] = struct.pack("<Q", 2)
        g.string("k")
        g.u32(ARR)
        g.u32(vt)
        g.u64(1)
        g.put(bytes(16))
        add("arr-type-unknown-%s.gguf" % nm, g, "unknown array element type %d" % vt, off_kv1 + 13)
    g = simple(base)
    g.b[16:24] = struct.pack("<Q", 2)
    g.string("k")
    g.u32(ARR)
    g.u32(ARR)
    g.u64(1)
    g.u32(U8)
    g.u64(1)
    g.put(b"\x01" + bytes(8))
    add("arr-nested.gguf", g, "nested arrays are not supported (key 'k')", off_kv1 + 13)
    # duplicates
    one("key-duplicate.gguf", "general.architecture", STR, "gemma3", "duplicate metadata key 'general.architecture'", off_kv1)
    add("key-duplicate-newline.gguf", simple([("a\nb", U8, 1), ("a\nb", U8, 2)]),
        "duplicate metadata key 'a?b'", 24 + 8 + 3 + 4 + 1)
    add("vtype-unknown-key-newline.gguf",
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 4) + b"a\nb\r"
        + struct.pack("<I", 99) + bytes(8), "unknown value type 99 for key 'a?b?'", 24 + 12)
    add("key-empty.gguf", simple([("", U8, 1)]), "empty metadata key", 24)
    # a message quotes at most 120 bytes of a key
    add("key-duplicate-long.gguf", simple([("k" * 300, U8, 1), ("k" * 300, U8, 2)]),
        "duplicate metadata key '%s'" % ("k" * 120), 24 + 8 + 300 + 4 + 1)
    # bools
    one("bool-2.gguf", "k", BOOL, 2, "bool value is 2, expected 0 or 1", off_kv1 + 13)
    one("bool-255.gguf", "k", BOOL, 255, "bool value is 255", off_kv1 + 13)
    one("bool-array-2.gguf", "k", ARR, (BOOL, [0, 1, 2]), "bool array element is 2", off_kv1 + 25 + 2)
    # invalid UTF-8: lone continuation, overlong, surrogate, > U+10FFFF, cut sequence,
    # 5-byte lead
    bad = {"cont": b"a\x80b", "overlong": b"\xc0\x80", "overlong3": b"\xe0\x80\xaf",
           "surrogate": b"\xed\xa0\x80", "above-10ffff": b"\xf4\x90\x80\x80",
           "cut": b"ab\xe2\x82", "lead-f8": b"\xf8\x88\x80\x80\x80", "byte-ff": b"x\xff"}
    for nm, s in bad.items():
        first_bad = {"cont": 1, "cut": 2, "byte-ff": 1}.get(nm, 0)
        add("utf8-key-%s.gguf" % nm, simple([(s, U8, 1)]), "metadata key is not valid UTF-8",
            24 + 8 + first_bad)
        g = simple(base + [("k", STR, s)])
        add("utf8-value-%s.gguf" % nm, g, "string value is not valid UTF-8", off_kv1 + 21 + first_bad)
        g = simple(base + [("k", ARR, (STR, ["fine", s]))])
        add("utf8-array-%s.gguf" % nm, g, "array string is not valid UTF-8",
            off_kv1 + 25 + 12 + 8 + first_bad)
    add("utf8-tensor-name.gguf", simple([], [(b"w\xc3", [1], 0, None)]),
        "tensor name is not valid UTF-8", 24 + 8 + 1)
    # general.alignment
    for nm, vt, v, exp in (("0", U32, 0, "general.alignment is 0, expected a power of two"),
                           ("3", U32, 3, "general.alignment is 3"),
                           ("48", U32, 48, "general.alignment is 48"),
                           ("2p31p1", U32, 2**31 + 1, "general.alignment is 2147483649"),
                           ("u64", U64, 32, "general.alignment has type UINT64, expected UINT32"),
                           ("i32", I32, 32, "general.alignment has type INT32"),
                           ("string", STR, "32", "general.alignment has type STRING"),
                           ("array", ARR, (U32, [32]), "general.alignment has type ARRAY")):
        one("align-%s.gguf" % nm, "general.alignment", vt, v, exp, off_kv1)


def tensor_cases():
    t0 = 24 + 8 + 1  # the first tensor's n_dims in a file with no metadata and name "w"
    def one(name, ne, tt, off, expect, at=None, data=None, kvs=()):
        add(name, simple(list(kvs), [("w", ne, tt, off)], data=data), expect, at)

    one("tensor-ndims-0.gguf", [], 0, 0, "has 0 dimensions, expected 1 to 4", t0, data=32)
    one("tensor-ndims-5.gguf", [1, 1, 1, 1, 1], 0, 0, "has 5 dimensions", t0, data=32)
    g = simple([], [("w", [1], 0, 0)], data=32)
    g.b[t0:t0 + 4] = struct.pack("<I", 2**32 - 1)
    add("tensor-ndims-2p32m1.gguf", g, "has 4294967295 dimensions", t0)
    for nm, tt in (("4", 4), ("5", 5), ("31", 31), ("36", 36), ("40", 40), ("2p32m1", 2**32 - 1)):
        g = simple([], [("w", [4], 0, 0)], data=32)
        g.b[t0 + 12:t0 + 16] = struct.pack("<I", tt)
        add("tensor-type-unknown-%s.gguf" % nm, g, "has unknown type id %d" % tt, t0 + 12)
    one("tensor-ne-2p63.gguf", [2**63], 0, 0, "element count overflows", t0 + 4, data=32)
    one("tensor-ne-2p64m1.gguf", [4, 2**64 - 1], 0, 0, "element count overflows", t0 + 12, data=32)
    one("tensor-nelem-overflow.gguf", [2**32, 2**32], 0, 0, "element count overflows", t0 + 12, data=32)
    one("tensor-nelem-overflow-4d.gguf", [2**16, 2**16, 2**16, 2**16], 0, 0,
        "element count overflows", t0 + 28, data=32)
    one("tensor-nbytes-overflow-row.gguf", [2**62], 28, 0, "byte size overflows", t0, data=32)
    one("tensor-nbytes-overflow-rows.gguf", [2**31, 2**31], 0, 0, "byte size overflows", t0, data=32)
    one("tensor-nbytes-huge.gguf", [2**40, 2**20], 24, 0, "lies past the end", 24, data=32)
    one("tensor-ne0-not-block-q4k.gguf", [255, 2], 12, 0, "row length 255 is not a multiple of Q4_K's block of 256", t0, data=288)
    one("tensor-ne0-not-block-q8_0.gguf", [33], 8, 0, "row length 33 is not a multiple of Q8_0's block of 32", t0, data=64)
    one("tensor-ne0-not-block-iq4nl.gguf", [16], 20, 0, "not a multiple of IQ4_NL's block of 32", t0, data=32)
    one("tensor-offset-past-end.gguf", [4], 0, 4096, "lies past the end", 24, data=16)
    one("tensor-offset-2p64m32.gguf", [4], 0, 2**64 - 32, "lies past the end", 24, data=16)
    one("tensor-offset-2p64m1.gguf", [4], 0, 2**64 - 1, "offset 18446744073709551615 is not a multiple of the alignment 32", t0 + 16, data=16)
    one("tensor-offset-misaligned.gguf", [4], 0, 16, "offset 16 is not a multiple of the alignment 32", t0 + 16, data=64)
    one("tensor-offset-misaligned-64.gguf", [4], 0, 32, "offset 32 is not a multiple of the alignment 64",
        None, data=128, kvs=[("general.alignment", U32, 64)])
    one("tensor-data-short-by-one.gguf", [8], 0, 0, "lies past the end", 24, data=31)
    one("tensor-no-data.gguf", [8], 0, 0, "lies past the end", 24, data=0)
    # no padding at all after the infos
    g = G()
    g.header(1, 0)
    g.tensor("w", [1], 0, 0)
    add("tensor-padding-missing.gguf", g, "padding before tensor data", len(g.b))
    # names
    add("tensor-name-empty.gguf", simple([], [("", [1], 0, None)]), "tensor name of 0 bytes", 24)
    add("tensor-name-64.gguf", simple([], [("n" * 64, [1], 0, None)]), "tensor name of 64 bytes", 24)
    add("tensor-name-len-2p64m1.gguf", b"GGUF" + struct.pack("<IQQQ", 3, 1, 0, U64MAX) + bytes(40),
        "tensor name of 18446744073709551615 bytes", 32)
    add("tensor-duplicate-name.gguf", simple([], [("w", [8], 0, None), ("w", [8], 0, None)]),
        "duplicate tensor name 'w'", 57)
    # overlaps (the second tensor info starts at 57 with name "w"/"v")
    add("tensor-overlap.gguf", simple([], [("a", [16], 0, 0), ("b", [16], 0, 32)]),
        "tensor 'b' data overlaps tensor 'a'", 57)
    add("tensor-overlap-same-offset.gguf", simple([], [("a", [8], 0, 0), ("b", [8], 0, 0)]),
        "tensor 'b' data overlaps tensor 'a'", 57)
    add("tensor-overlap-reversed.gguf", simple([], [("a", [8], 0, 64), ("b", [32], 0, 0)]),
        "tensor 'a' data overlaps tensor 'b'", 24)
    add("tensor-overlap-inside.gguf",
        simple([], [("a", [64], 0, 0), ("b", [8], 0, 96), ("c", [8], 0, 128)]),
        "tensor 'b' data overlaps tensor 'a'", 57)
    add("tensor-overlap-empty-inside.gguf", simple([], [("a", [16], 0, 0), ("z", [0], 0, 32)]),
        "tensor 'z' data overlaps tensor 'a'", 57)


def main():
    valid_cases()
    truncations()
    header_cases()
    kv_cases()
    tensor_cases()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if "--check" in sys.argv:
        sys.exit(check())
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else OUT
    os.makedirs(out, exist_ok=True)
    keep = {n for n in os.listdir(out) if n.startswith("fuzz-")}
    for n in os.listdir(out):
        if n not in keep:
            os.remove(os.path.join(out, n))
    lines = []
    for name, data, expect, at in CASES:
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        lines.append("%s\t%s\t%s" % (name, expect, "-" if at is None else at))
    lines += EXTRA
    with open(os.path.join(out, "EXPECTED.tsv"), "w") as f:
        f.write("# name\texpect (ok, or a substring of the one-line error)\tbyte named in the error (- = unstated)\n")
        f.write("# written by tests/ref/make_gguf_corpus.py; do not edit by hand\n")
        f.write("\n".join(lines) + "\n")
    print("%d files in %s" % (len(CASES), os.path.normpath(out)), file=sys.stderr)


def check():
    """The valid files against gguf-py and `hone inspect`; returns the exit status."""
    import subprocess
    import tempfile
    import warnings
    warnings.simplefilter("ignore")
    from gguf import GGUFReader
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    hone = os.path.join(root, "build", "hone")
    hone = hone if os.access(hone, os.X_OK) else None
    bad = n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, expect, _ in CASES:
            if expect != "ok":
                continue
            n += 1
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            version, n_t, n_kv = struct.unpack("<IQQ", data[4:24])
            try:
                r = GGUFReader(path)
            except Exception as e:
                print("MISMATCH %s: gguf-py refuses it: %s" % (name, e))
                bad += 1
                continue
            fields = [f for f in r.fields.values() if not f.name.startswith("GGUF.")]
            problems = []
            if len(fields) != n_kv or len(r.tensors) != n_t:
                problems.append("gguf-py sees %d keys, %d tensors" % (len(fields), len(r.tensors)))
            for t in r.tensors:
                if int(t.tensor_type) not in DT:
                    problems.append("tensor %s type %d" % (t.name, int(t.tensor_type)))
            if hone:
                import json
                out = subprocess.run([hone, "inspect", "--json", "--all", path], capture_output=True)
                try:
                    j = json.loads(out.stdout.decode("utf-8"))
                except ValueError:
                    j = None
                if out.returncode != 0 or j is None:
                    problems.append("hone inspect --json failed: %r" % out.stderr[-200:])
                else:
                    got = (j["gguf"]["version"], len(j["metadata"]), j["n_tensors"])
                    if got != (version, n_kv, n_t):
                        problems.append("hone inspect: version/keys/tensors %r, expected %r"
                                        % (got, (version, n_kv, n_t)))
                    want = [(f.name, VT_NAMES[f.types[0]].upper()) for f in fields]
                    have = [(m["key"], m["type"]) for m in j["metadata"]]
                    if have != want:
                        problems.append("hone inspect keys differ from gguf-py's")
            for p in problems:
                print("MISMATCH %s: %s" % (name, p))
            bad += bool(problems)
    print("gguf corpus vs gguf-py%s: %d valid files, %d mismatches"
          % (" and hone inspect" if hone else " (build/hone absent: inspect not compared)", n, bad))
    return 1 if bad else 0


# Inputs found by fuzzing (kept as files; minimized), with what they must give.
EXTRA = [
    # fuzz_gguf, first seconds: a key ending in '\n' made the error two lines (fixed in err.c)
    "fuzz-newline-key.gguf\tunknown value type 1946157056 for key 'general.alignmen?'\t49",
]

if __name__ == "__main__":
    main()
