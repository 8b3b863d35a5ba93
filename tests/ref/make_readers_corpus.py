"""make_readers_corpus.py: writes the seed corpora for fuzz_safetensors and
fuzz_hfconfig (tests/corpus/safetensors/seed/, tests/corpus/hfconfig/seed/;
the folders above them hold the hand-made corrupt corpora of make_safetensors_corpus.py
and make_config_corpus.py, which libFuzzer reads together with these).

safetensors seeds: files written by the PyPI safetensors package (several
dtypes and shapes, metadata, empty) and corrupted copies of them (truncated,
header length too big, offsets past the end, overlap, bad dtype, bad JSON).
hfconfig seeds: the committed config.json fixtures plus broken variants.
Run with the reference venv's python from the repository root; it replaces
the two folders.
"""
import json
import os
import shutil
import struct

import numpy as np
from safetensors.numpy import save

ST = "tests/corpus/safetensors/seed"
HF = "tests/corpus/hfconfig/seed"


def reset(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def raw(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


reset(ST)
rng = np.random.default_rng(7)
good = save({"a": rng.standard_normal((2, 3)).astype(np.float32),
             "b": np.arange(4, dtype=np.float16),
             "c": np.array([1, 0, 1], dtype=np.bool_),
             "d": np.zeros((0, 2), dtype=np.int64)}, metadata={"format": "pt"})
put(ST, "valid-mixed.safetensors", good)
put(ST, "valid-scalar.safetensors", save({"s": np.array(2.5, dtype=np.float64)}))
put(ST, "valid-empty.safetensors", raw({}))
put(ST, "valid-meta-only.safetensors", raw({"__metadata__": {"k": "v"}}))
put(ST, "truncated-data.safetensors", good[:-3])
put(ST, "truncated-header.safetensors", good[:20])
put(ST, "short.safetensors", good[:5])
put(ST, "header-too-long.safetensors", struct.pack("<Q", 10**12) + good[8:])
f32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
put(ST, "offsets-past-end.safetensors", raw({"a": dict(f32, data_offsets=[0, 16])}, bytes(8)))
put(ST, "overlap.safetensors", raw({"a": f32, "b": dict(f32, data_offsets=[4, 12])}, bytes(12)))
put(ST, "begin-after-end.safetensors", raw({"a": dict(f32, data_offsets=[8, 0])}, bytes(8)))
put(ST, "size-mismatch.safetensors", raw({"a": dict(f32, shape=[3])}, bytes(8)))
put(ST, "bad-dtype.safetensors", raw({"a": dict(f32, dtype="Q4_K")}, bytes(8)))
put(ST, "shape-overflow.safetensors", raw({"a": dict(f32, shape=[2**33, 2**33])}, bytes(8)))
h = b'{"a":{"dtype":"F32","shape":[2],,}}'
put(ST, "bad-json.safetensors", struct.pack("<Q", len(h)) + h + bytes(8))
put(ST, "dup-key.safetensors", struct.pack("<Q", 2 * len(b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}') + 3)
    + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    + bytes(8))

reset(HF)
for name in sorted(os.listdir("tests/fixtures/hf")):
    if name.endswith(".json"):
        shutil.copy(os.path.join("tests/fixtures/hf", name), os.path.join(HF, name))
put(HF, "bad-json.json", '{"model_type": "llama",,}')
put(HF, "unknown-arch.json", '{"model_type": "phi3"}')
put(HF, "bad-types.json", '{"model_type": "llama", "hidden_size": "x", "rope_scaling": 3}')
put(HF, "kv-heads.json", '{"model_type": "qwen2", "num_attention_heads": 6, "num_key_value_heads": 4}')
put(HF, "layer-types.json", '{"model_type": "gemma3_text", "num_hidden_layers": 2, "layer_types": ["full_attention", "x"]}')
put(HF, "llama3-rope.json", '{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8, '
    '"low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}}')
put(HF, "many-layers.json", '{"model_type": "llama", "num_hidden_layers": 100000}')
print(f"wrote {len(os.listdir(ST))} safetensors and {len(os.listdir(HF))} config seeds")
