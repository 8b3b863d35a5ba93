#!/usr/bin/env python3
"""make_safetensors_corpus.py: writes tests/corpus/safetensors/, hand-made
safetensors files for the reader's robustness tests (and fuzz_safetensors'
seed corpus), and its manifest EXPECTED.tsv.

Layout (the format's README): u64 little-endian header length N, N bytes of
UTF-8 JSON {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
..., "__metadata__": {"k": "v"}}, then the data; offsets are relative to byte
8 + N, must tile the data section without gaps, and e - b must equal the
shape's element count times the dtype size.

Files are built byte by byte (the JSON text by hand, so that duplicate keys,
bad UTF-8 and odd numbers can be written). EXPECTED.tsv: NAME <TAB> EXPECT <TAB>
WHERE, EXPECT `ok` or a substring of the one-line error (EXPECT below), WHERE a
byte offset the message must name ("byte N:"), `-` when the text names the
tensor and field instead. Like the reference crate, hone wants the tensors to
tile the data section exactly (first at 0, no gaps, no trailing bytes).

`--check` (with the reference venv's python) loads every file with the PyPI
safetensors package: `ok` files must load with the tensors this script put in,
the others must be refused, except those marked LENIENT below, which the
reference accepts and hone refuses on purpose.

Run: python3 tests/ref/make_safetensors_corpus.py [--check] [--out DIR]
"""
import json
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "safetensors")

SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
        "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}

CASES = []   # (name, bytes, expect, where)

# The error each corrupt file must give: a substring of hone's one-line message,
# and the file byte it must name ("byte N:"), "-" where the message names the
# tensor/field instead (the text itself holds it, e.g. "w.dtype").
EXPECT = {
    'data-missing.safetensors': ('header: a.data_offsets end 8 lies past the data section (0 bytes)', '-'),
    'data-trailing-bytes.safetensors': ("1 trailing bytes after the last tensor's data (expected the file to end at byte 66)", '66'),
    'dtype-f8.safetensors': ('header: w: data_offsets span 8 bytes, expected 2 (2 F8_E4M3 elements)', '-'),
    'dtype-missing.safetensors': ('header: w.dtype: expected a string', '-'),
    'dtype-null.safetensors': ('header: w.dtype: expected a string', '-'),
    'dtype-number.safetensors': ('header: w.dtype: expected a string', '-'),
    'header-leading-space.safetensors': ("expected the header JSON to start with '{'", '8'),
    'hlen-0-with-data.safetensors': ("expected the header JSON to start with '{'", '8'),
    'hlen-0.safetensors': ("expected the header JSON to start with '{'", '8'),
    'hlen-100mb.safetensors': ('header length 104857600 exceeds the 100000000-byte limit (not a safetensors file?)', '0'),
    'hlen-2p32.safetensors': ('header length 4294967296 exceeds the 100000000-byte limit (not a safetensors file?)', '0'),
    'hlen-2p63.safetensors': ('header length 9223372036854775808 exceeds the 100000000-byte limit (not a safetensors file', '0'),
    'hlen-2p64m1.safetensors': ('header length 18446744073709551615 exceeds the 100000000-byte limit (not a safetensors fil', '0'),
    'hlen-one-past-end.safetensors': ('expected header JSON of 9 bytes, only 8 left in file', '8'),
    'hlen-past-end.safetensors': ('expected header JSON of 200 bytes, only 57 left in file', '8'),
    'hlen-short.safetensors': ('premature end of input', '28'),
    'hlen-trunc-0.safetensors': ('expected 8-byte header length of 8 bytes, only 0 left in file', '0'),
    'hlen-trunc-1.safetensors': ('expected 8-byte header length of 8 bytes, only 1 left in file', '0'),
    'hlen-trunc-4.safetensors': ('expected 8-byte header length of 8 bytes, only 4 left in file', '0'),
    'hlen-trunc-7.safetensors': ('expected 8-byte header length of 8 bytes, only 7 left in file', '0'),
    'json-bad-escape.safetensors': ('invalid escape', '13'),
    'json-bare-key.safetensors': ("string or '}' expected", '10'),
    'json-bom.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-comment.safetensors': ("string or '}' expected", '10'),
    'json-control-in-string.safetensors': ('control character 0x1', '11'),
    'json-deep-nesting-unclosed.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-deep-nesting.safetensors': ('maximum parsing depth reached', '2072'),
    'json-empty.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-lone-surrogate-escape.safetensors': ("invalid Unicode '\\uD800'", '17'),
    'json-nan.safetensors': ('invalid token', '16'),
    'json-nul-byte.safetensors': ('end of file expected', '62'),
    'json-single-quotes.safetensors': ("string or '}' expected", '10'),
    'json-spaces.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-syntax.safetensors': ("string or '}' expected", '28'),
    'json-top-array.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-top-null.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-top-number.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-top-string.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-top-true.safetensors': ("expected the header JSON to start with '{'", '8'),
    'json-trailing-comma.safetensors': ("string or '}' expected", '62'),
    'json-trailing-garbage.safetensors': ('end of file expected', '64'),
    'json-two-objects.safetensors': ('end of file expected', '62'),
    'json-unterminated-object.safetensors': ("'}' expected", '64'),
    'json-unterminated-string.safetensors': ('premature end of input', '16'),
    'meta-array-top.safetensors': ('header: __metadata__ is not an object', '-'),
    'meta-array.safetensors': ('header: __metadata__.k is not a string', '-'),
    'meta-bool.safetensors': ('header: __metadata__.k is not a string', '-'),
    'meta-duplicate-key.safetensors': ('duplicate object key', '36'),
    'meta-duplicate.safetensors': ('duplicate object key', '41'),
    'meta-not-object.safetensors': ('header: __metadata__ is not an object', '-'),
    'meta-null-value.safetensors': ('header: __metadata__.k is not a string', '-'),
    'meta-null.safetensors': ('header: __metadata__ is not an object', '-'),
    'meta-number.safetensors': ('header: __metadata__.k is not a string', '-'),
    'meta-object.safetensors': ('header: __metadata__.k is not a string', '-'),
    'name-duplicate-escaped.safetensors': ('duplicate object key', '69'),
    'name-duplicate.safetensors': ('duplicate object key', '64'),
    'name-nul-escape.safetensors': ('NUL byte in object key', '19'),
    'offsets-2p64.safetensors': ('too big integer', '77'),
    'offsets-2p64m1.safetensors': ('too big integer', '75'),
    'offsets-float.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'offsets-gap.safetensors': ("gap before tensor 'b' data [4, 6): expected it to begin at 2, where tensor 'a' ends", '122'),
    'offsets-missing.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'offsets-negative.safetensors': ('header: w.data_offsets [-4, 0]: expected 0 <= begin <= end', '-'),
    'offsets-not-array.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'offsets-not-from-zero.safetensors': ("gap before tensor 'w' data [4, 8): expected the first tensor to begin at 0", '64'),
    'offsets-one-value.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'offsets-overlap.safetensors': ("tensor 'b' data [2, 6) overlaps tensor 'a' [0, 4) (expected it to begin at 4)", '122'),
    'offsets-past-end.safetensors': ('header: w.data_offsets end 4 lies past the data section (2 bytes)', '-'),
    'offsets-reversed.safetensors': ('header: w.data_offsets [4, 0]: expected 0 <= begin <= end', '-'),
    'offsets-same.safetensors': ("tensor 'b' data [0, 4) overlaps tensor 'a' [0, 4) (expected it to begin at 4)", '120'),
    'offsets-size-mismatch-big.safetensors': ('header: w: data_offsets span 5 bytes, expected 4 (4 U8 elements)', '-'),
    'offsets-size-mismatch-small.safetensors': ('header: w: data_offsets span 3 bytes, expected 4 (4 U8 elements)', '-'),
    'offsets-start-past-end.safetensors': ('header: w.data_offsets end 12 lies past the data section (4 bytes)', '-'),
    'offsets-string.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'offsets-three-values.safetensors': ('header: w.data_offsets: expected [begin, end] integers', '-'),
    'shape-2p63.safetensors': ('too big integer', '55'),
    'shape-2p64.safetensors': ('too big integer', '56'),
    'shape-2p64m1.safetensors': ('too big integer', '56'),
    'shape-exponent.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'shape-float.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'shape-huge-digits.safetensors': ('too big integer', '436'),
    'shape-leading-zero.safetensors': ('invalid token', '37'),
    'shape-minus-zero.safetensors': ('header: w: data_offsets span 1 bytes, expected 0 (0 U8 elements)', '-'),
    'shape-missing.safetensors': ('header: w.shape: expected an array', '-'),
    'shape-negative-2d.safetensors': ('header: w.shape[1]: expected a non-negative integer', '-'),
    'shape-negative.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'shape-nested.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'shape-not-array.safetensors': ('header: w.shape: expected an array', '-'),
    'shape-null-dim.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'shape-product-overflow-bytes.safetensors': ('header: w: data_offsets span 1 bytes, expected 4611686018427387904 (4611686018427387904 U8', '-'),
    'shape-product-overflow.safetensors': ('header: w.shape: element count overflows', '-'),
    'shape-string.safetensors': ('header: w.shape[0]: expected a non-negative integer', '-'),
    'tensor-field-duplicate.safetensors': ('duplicate object key', '34'),
    'tensor-not-object.safetensors': ("header: tensor 'w' is not an object", '-'),
    'tensor-null.safetensors': ("header: tensor 'w' is not an object", '-'),
    'utf8-cut-at-end.safetensors': ('unable to decode byte 0xe2', '34'),
    'utf8-metadata.safetensors': ('unable to decode byte 0xe2', '31'),
    'utf8-name-overlong.safetensors': ('unable to decode byte 0xc0', '10'),
    'utf8-name-surrogate.safetensors': ('unable to decode byte 0xed', '10'),
    'utf8-name.safetensors': ('unable to decode byte 0xff', '11'),
    'dtype-empty.safetensors': ("header: w.dtype: dtype '' is not supported (expected one of BOOL", '-'),
    'dtype-q4.safetensors': ("header: w.dtype: dtype 'Q4_0' is not supported", '-'),
    'dtype-space.safetensors': ("header: w.dtype: dtype 'F32 ' is not supported", '-'),
    'dtype-lower.safetensors': ("header: w.dtype: dtype 'f32' is not supported", '-'),
    'dtype-f33.safetensors': ("header: w.dtype: dtype 'F33' is not supported", '-'),
    'shape-many-dims.safetensors': ('header: w.shape: 40 dimensions, at most 8 supported', '-'),
}
LENIENT = {}  # name -> why the reference accepts it


def add(name, data, expect="error", where=None, lenient=None):
    if expect == "error":
        assert name in EXPECT, "no expected message for " + name
        expect, w = EXPECT[name]
        where = None if w == "-" else w
    CASES.append((name, bytes(data), expect, where))
    if lenient:
        LENIENT[name] = lenient


def st_raw(header, data=b"", n=None, pad=True):
    """A file from header text (str or bytes), padded with spaces to a multiple of 8
    (as the reference writer does) unless pad is False; n overrides the length."""
    h = header.encode() if isinstance(header, str) else header
    if pad:
        h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def st(tensors, meta=None, data=None):
    """A valid file from [(name, dtype, shape)], laid out in order."""
    hdr, off, blob = {}, 0, bytearray()
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        nb = n * SIZE[dt]
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nb]}
        blob += bytes((off + i) * 13 & 0xFF for i in range(nb)) if dt != "BOOL" else bytes(
            (i & 1) for i in range(nb))
        off += nb
    return st_raw(json.dumps(hdr, separators=(",", ":")), bytes(blob) if data is None else data)


def one(name, dt="F32", shape=(2, 2), offs=None, data_len=None, extra="", expect="error",
        where=None, lenient=None):
    """A one-tensor file with the given fields written verbatim (strings are JSON)."""
    n = 1
    for d in shape if isinstance(shape, (list, tuple)) else []:
        n *= d if isinstance(d, int) else 1
    nb = n * SIZE.get(dt, 4) if isinstance(dt, str) else 16
    if offs is None:
        offs = [0, nb]
    dt_j = json.dumps(dt) if not isinstance(dt, bytes) else dt.decode("latin-1")
    shape_j = shape if isinstance(shape, str) else json.dumps(list(shape))
    offs_j = offs if isinstance(offs, str) else json.dumps(offs)
    hdr = '{"w":{"dtype":%s,"shape":%s,"data_offsets":%s}%s}' % (dt_j, shape_j, offs_j, extra)
    add(name, st_raw(hdr, bytes(nb if data_len is None else data_len)), expect, where, lenient)


def valid():
    add("ok-empty.safetensors", st_raw("{}"), "ok")
    add("ok-one-f32.safetensors", st([("w", "F32", [2, 3])]), "ok")
    add("ok-all-dtypes.safetensors", st([("t_" + d.lower(), d, [3]) for d in SIZE]), "ok")
    add("ok-metadata.safetensors", st([("w", "F16", [4])], {"format": "pt", "note": "héllo ✓"}), "ok")
    add("ok-scalar.safetensors", st([("s", "F32", [])]), "ok")
    add("ok-zero-size.safetensors", st([("z", "F32", [0, 4]), ("w", "F32", [2])]), "ok")
    add("ok-4d-bf16.safetensors", st([("w", "BF16", [1, 2, 3, 2])]), "ok")
    add("ok-no-padding.safetensors", st_raw('{"w":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}',
                                            b"abc", pad=False), "ok")
    add("ok-whitespace.safetensors", st_raw('{ "w" : { "dtype" : "U8" , "shape" : [ 1 ] ,\n'
                                            ' "data_offsets" : [ 0 , 1 ] } }\t', b"x"), "ok")
    add("ok-unicode-name.safetensors", st([("wé✓.🌍", "I8", [2])]), "ok")
    add("ok-escaped-name.safetensors", st_raw('{"w\\u00e9\\n":{"dtype":"U8","shape":[1],'
                                              '"data_offsets":[0,1]}}', b"x"), "ok")
    add("ok-out-of-order.safetensors", st_raw(
        '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},'
        '"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"abcd"), "ok")
    add("ok-metadata-empty.safetensors", st([("w", "U8", [1])], {}), "ok")


def header_len():
    add("header-leading-space.safetensors", st_raw(' \n{"w":{"dtype":"U8","shape":[1],'
                                                   '"data_offsets":[0,1]}}', b"x"), "error", None,
        "the package (0.8.0) skips whitespace before '{'")
    full = st([("w", "F32", [2])])
    for n in (0, 1, 4, 7):
        add("hlen-trunc-%d.safetensors" % n, full[:n], "error", 0)
    add("hlen-0.safetensors", struct.pack("<Q", 0), "error", 0)
    add("hlen-0-with-data.safetensors", struct.pack("<Q", 0) + b"{}      ", "error", 0)
    for nm, n in (("2p64m1", 2**64 - 1), ("2p63", 2**63), ("2p32", 2**32),
                  ("100mb", 100 * 2**20)):
        add("hlen-%s.safetensors" % nm, st_raw("{}", n=n), "error", 0)
    add("hlen-past-end.safetensors", st_raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
                                           b"x", n=200), "error", 0)
    add("hlen-one-past-end.safetensors", st_raw("{}", n=9), "error", 0)
    add("hlen-short.safetensors", st_raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
                                        b"x", n=20), "error")


def bad_json():
    w = '"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    for nm, h in (("syntax", '{"w":{"dtype":"U8",,}}'), ("unterminated-string", '{"w'),
                  ("unterminated-object", '{' + w), ("trailing-comma", '{' + w + ',}'),
                  ("trailing-garbage", '{' + w + '}xyz'), ("two-objects", '{' + w + '}{}'),
                  ("single-quotes", "{'w':1}"), ("bare-key", '{w:1}'),
                  ("nul-byte", '{' + w + '}\0'), ("bom", '\ufeff{' + w + '}'),
                  ("comment", '{/*c*/' + w + '}'), ("nan", '{"w":NaN}'),
                  ("bad-escape", '{"w\\x":1}'), ("lone-surrogate-escape", '{"\\ud800":{}}'),
                  ("control-in-string", '{"w\x01":1}'), ("empty", ''), ("spaces", '        ')):
        add("json-%s.safetensors" % nm, st_raw(h, b"x"), "error")
    # nesting far deeper than any header needs
    add("json-deep-nesting.safetensors", st_raw('{"__metadata__":' + '[' * 5000 + ']' * 5000 + '}'),
        "error")
    add("json-deep-nesting-unclosed.safetensors", st_raw('[' * 4000), "error")
    for nm, h in (("array", "[]"), ("string", '"w"'), ("number", "42"), ("null", "null"),
                  ("true", "true")):
        add("json-top-%s.safetensors" % nm, st_raw(h), "error")
    # invalid UTF-8 in a name, in a dtype, in metadata
    add("utf8-name.safetensors", st_raw(b'{"w\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
        "error")
    add("utf8-name-overlong.safetensors",
        st_raw(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"), "error")
    add("utf8-name-surrogate.safetensors",
        st_raw(b'{"\xed\xa0\x80":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"), "error")
    add("utf8-metadata.safetensors", st_raw(b'{"__metadata__":{"k":"v\xe2\x82"}}'), "error")
    add("utf8-cut-at-end.safetensors", st_raw(b'{"__metadata__":{"k":"v"}}\xe2\x82', pad=False), "error")


def tensors():
    w = '"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    # dtype
    for nm, dt in (("f33", "F33"), ("empty", ""), ("lower", "f32"), ("f8", "F8_E4M3"),
                   ("q4", "Q4_0"), ("space", "F32 ")):
        one("dtype-%s.safetensors" % nm, dt, shape=(2,), offs=[0, 8], data_len=8)
    one("dtype-number.safetensors", b"1", shape=(2,), offs=[0, 8], data_len=8)
    one("dtype-null.safetensors", b"null", shape=(2,), offs=[0, 8], data_len=8)
    add("dtype-missing.safetensors", st_raw('{"w":{"shape":[1],"data_offsets":[0,1]}}', b"x"))
    add("shape-missing.safetensors", st_raw('{"w":{"dtype":"U8","data_offsets":[0,1]}}', b"x"))
    add("offsets-missing.safetensors", st_raw('{"w":{"dtype":"U8","shape":[1]}}', b"x"))
    add("tensor-not-object.safetensors", st_raw('{"w":[1,2]}', b"x"))
    add("tensor-null.safetensors", st_raw('{"w":null}', b"x"))
    add("tensor-unknown-field.safetensors",
        st_raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"x"),
        "ok")  # the package ignores unknown fields; so may hone
    add("tensor-field-duplicate.safetensors",
        st_raw('{"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}}', b"x"))
    # shapes
    for nm, shape in (("negative", "[-1]"), ("negative-2d", "[2,-3]"), ("2p64", "[18446744073709551616]"),
                      ("2p64m1", "[18446744073709551615]"), ("2p63", "[9223372036854775808]"),
                      ("product-overflow", "[4294967296,4294967296]"),
                      ("product-overflow-bytes", "[4611686018427387904]"),
                      ("float", "[1.5]"), ("exponent", "[1e3]"), ("string", '["3"]'),
                      ("not-array", "3"), ("nested", "[[1]]"), ("null-dim", "[null]"),
                      ("minus-zero", "[-0]"), ("leading-zero", "[01]"),
                      ("huge-digits", "[" + "9" * 400 + "]"), ("many-dims", "[" + ",".join(["1"] * 40) + "]")):
        one("shape-%s.safetensors" % nm, "U8", shape=shape, offs=[0, 1], data_len=1,
            lenient="hone keeps at most 8 dims (HONE_ST_MAX_DIMS)" if nm == "many-dims" else None)
    # offsets
    for nm, offs, dl in (("reversed", "[4,0]", 4), ("past-end", "[0,4]", 2), ("start-past-end", "[8,12]", 4),
                         ("one-value", "[0]", 4), ("three-values", "[0,4,8]", 8), ("negative", "[-4,0]", 4),
                         ("float", "[0,4.0]", 4), ("string", '["0","4"]', 4), ("not-array", "4", 4),
                         ("2p64m1", "[18446744073709551612,18446744073709551615]", 4),
                         ("2p64", "[0,18446744073709551616]", 4),
                         ("size-mismatch-small", "[0,3]", 3), ("size-mismatch-big", "[0,5]", 5),
                         ("not-from-zero", "[4,8]", 8)):
        one("offsets-%s.safetensors" % nm, "U8", shape=(4,), offs=offs, data_len=dl)
    add("offsets-overlap.safetensors", st_raw(
        '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
        '"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', bytes(6)))
    add("offsets-same.safetensors", st_raw(
        '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
        '"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', bytes(4)))
    add("offsets-gap.safetensors", st_raw(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
        '"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}', bytes(6)))
    add("data-trailing-bytes.safetensors", st_raw(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', bytes(3)))
    add("data-missing.safetensors", st_raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'))
    # names
    add("name-duplicate.safetensors", st_raw(
        '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        '"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"xy"))
    add("name-duplicate-escaped.safetensors", st_raw(
        '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        '"\\u0077":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"xy"))
    add("name-empty.safetensors", st_raw('{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
        "ok")  # the format allows any string as a name, "" included
    add("name-nul-escape.safetensors", st_raw('{"w\\u0000x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
        "error", None, "JSON allows \\u0000; hone names are C strings")
    # __metadata__
    for nm, m in (("number", '{"k":1}'), ("object", '{"k":{}}'), ("array", '{"k":["v"]}'),
                  ("null-value", '{"k":null}'), ("bool", '{"k":true}'), ("not-object", '"pt"'),
                  ("array-top", '[]'), ("null", 'null')):
        add("meta-%s.safetensors" % nm, st_raw('{"__metadata__":%s,%s}' % (m, w), b"x"), "error", None,
            "serde reads a null __metadata__ as absent" if nm == "null" else None)
    add("meta-duplicate.safetensors", st_raw('{"__metadata__":{},"__metadata__":{},%s}' % w, b"x"))
    add("meta-duplicate-key.safetensors", st_raw('{"__metadata__":{"k":"a","k":"b"},%s}' % w, b"x"),
        "error", None, "serde keeps the last value of a duplicate key")


def main():
    valid()
    header_len()
    bad_json()
    tensors()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if "--check" in sys.argv:
        sys.exit(check())
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else OUT
    os.makedirs(out, exist_ok=True)
    keep = {n for n in os.listdir(out) if n.startswith("fuzz-")}
    for n in os.listdir(out):
        if n not in keep and not os.path.isdir(os.path.join(out, n)):  # seed/ stays
            os.remove(os.path.join(out, n))
    lines = []
    for name, data, expect, where in CASES:
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        lines.append("%s\t%s\t%s" % (name, expect, "-" if where is None else where))
    lines += EXTRA
    with open(os.path.join(out, "EXPECTED.tsv"), "w") as f:
        f.write("# name\texpect (ok, or a substring of the one-line error)\t"
                "byte named in the error (- = unstated)\n")
        f.write("# written by tests/ref/make_safetensors_corpus.py; do not edit by hand\n")
        f.write("\n".join(lines) + "\n")
    print("%d files in %s" % (len(CASES), os.path.normpath(out)), file=sys.stderr)


def check():
    """Every case against the PyPI safetensors package; returns the exit status."""
    from safetensors import deserialize  # the Rust parser; no numpy dtype needed (BF16)
    bad = 0
    for name, data, expect, _ in CASES:
        try:
            got = {name: info for name, info in deserialize(data)}
            err = None
        except Exception as e:  # the package raises SafetensorError, ValueError, ...
            got, err = None, "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:100])
        if expect == "ok":
            if err:
                print("MISMATCH %s: valid here, the reference refuses it: %s" % (name, err))
                bad += 1
            else:
                hdr_len = struct.unpack("<Q", data[:8])[0]
                hdr = json.loads(data[8:8 + hdr_len])
                hdr.pop("__metadata__", None)
                if sorted(got) != sorted(hdr) or any(list(got[k]["shape"]) != hdr[k]["shape"] or got[k]["dtype"].upper() != hdr[k]["dtype"].upper()
                                            for k in hdr):
                    print("MISMATCH %s: the reference reads other tensors/shapes" % name)
                    bad += 1
        elif err is None and name not in LENIENT:
            print("MISMATCH %s: corrupt here, the reference accepts it" % name)
            bad += 1
        elif err is not None and name in LENIENT:
            print("note %s: marked lenient, but the reference refuses it: %s" % (name, err))
    n_ok = sum(1 for c in CASES if c[2] == "ok")
    print("safetensors corpus vs the safetensors package: %d files (%d valid, %d corrupt, %d of "
          "them accepted by the reference on purpose), %d mismatches"
          % (len(CASES), n_ok, len(CASES) - n_ok, len(LENIENT), bad))
    return 1 if bad else 0


# Inputs found by fuzzing (fuzz-*, minimized, kept in the folder by hand: this
# script leaves them alone), each with its hand-written EXPECTED.tsv line.
EXTRA = [
]


if __name__ == "__main__":
    main()
