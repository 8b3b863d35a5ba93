"""test_inspect_vs_ggufpy.py: `hone inspect --json --all --tensors` against gguf-py.

For each real model (Gemma 3 270M, SmolLM2 135M) compares EVERY metadata key
(order, name, value type, element type, value; arrays element by element,
including all 262,144 token strings and scores) and EVERY tensor (name, type,
shape in ggml order, offset from the data section, byte size) with what
gguf-py's GGUFReader reads from the same file, plus the model description's
summary numbers. Tolerance: none. Floats are compared exactly: both sides hold
the same float32 bits, hone writes them as doubles with 17 significant digits
(exact round trip) and gguf-py widens np.float32 to a Python float exactly.
Exits non-zero on the first class of mismatch, printing what differed.
"""
import json
import os
import subprocess
import sys

from gguf import GGUFReader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.path.join(ROOT, "build", "hone")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))

# Summary numbers each model's description must give (from the model cards and
# the GGUF keys; n_params is checked against gguf-py's element counts below).
EXPECT = {
    "gemma-3-270m-q4_k_m.gguf": dict(architecture="gemma3", n_layers=18, hidden=640, ffn_hidden=2048,
                                     n_heads=4, n_kv_heads=1, head_dim=256, vocab=262144, context=32768,
                                     sliding_window=512, sliding_pattern=6, tied_embeddings=True),
    "SmolLM2-135M-Instruct.Q4_1.gguf": dict(architecture="llama", n_layers=30, hidden=576, ffn_hidden=1536,
                                            n_heads=9, n_kv_heads=3, head_dim=64, vocab=49152, context=8192,
                                            sliding_window=0, tied_embeddings=True),
}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def py_value(field):
    """The field's value as gguf-py decodes it (str, int, float, bool, or list)."""
    return field.contents()


def check_model(fname):
    path = os.path.join(MODELS, fname)
    if not os.path.exists(path):
        print(f"[ SKIPPED ] {fname} not found in {MODELS} (run `make models`)")
        return
    out = subprocess.run([HONE, "inspect", "--json", "--all", "--tensors", path],
                         capture_output=True, check=False)
    if out.returncode != 0:
        fail(f"{fname}: hone inspect exited {out.returncode}: {out.stderr.decode()[:500]}")
        return
    h = json.loads(out.stdout)
    r = GGUFReader(path)

    # ---- metadata: same keys, same order, same types and values
    py_fields = [(k, f) for k, f in r.fields.items() if not k.startswith("GGUF.")]
    md = h["metadata"]
    if [m["key"] for m in md] != [k for k, _ in py_fields]:
        fail(f"{fname}: metadata keys differ: hone {[m['key'] for m in md]} vs gguf-py {[k for k, _ in py_fields]}")
        return
    n_elems = 0
    for m, (k, f) in zip(md, py_fields):
        t = f.types[0].name
        if m["type"] != t:
            fail(f"{fname}: {k}: type {m['type']} vs gguf-py {t}")
            continue
        if "truncated" in m:
            fail(f"{fname}: {k}: hone abbreviated the value despite --all")
            continue
        v = py_value(f)
        if t == "ARRAY":
            et = f.types[1].name if len(f.types) > 1 else None
            if m["elem_type"] != et:
                fail(f"{fname}: {k}: element type {m['elem_type']} vs gguf-py {et}")
                continue
            if m["n"] != len(v) or len(m["value"]) != len(v):
                fail(f"{fname}: {k}: {m['n']}/{len(m['value'])} elements vs gguf-py {len(v)}")
                continue
            bad = [i for i, (a, b) in enumerate(zip(m["value"], v)) if a != b or type(a) is not type(b)]
            if bad:
                i = bad[0]
                fail(f"{fname}: {k}: {len(bad)} elements differ, first [{i}]: {m['value'][i]!r} vs gguf-py {v[i]!r}")
            n_elems += len(v)
        else:
            if m["value"] != v or type(m["value"]) is not type(v):
                fail(f"{fname}: {k}: {m['value']!r} vs gguf-py {v!r}")
            n_elems += 1
    # header counts
    if h["gguf"]["version"] != r.fields["GGUF.version"].contents():
        fail(f"{fname}: version {h['gguf']['version']}")
    if h["gguf"]["data_offset"] != r.data_offset:
        fail(f"{fname}: data offset {h['gguf']['data_offset']} vs gguf-py {r.data_offset}")

    # ---- tensors
    ts = h["tensors"]
    if len(ts) != len(r.tensors) or h["n_tensors"] != len(r.tensors):
        fail(f"{fname}: {len(ts)} tensors vs gguf-py {len(r.tensors)}")
        return
    n_params = 0
    for a, b in zip(ts, r.tensors):
        want = dict(name=b.name, type=b.tensor_type.name, shape=[int(x) for x in b.shape],
                    offset=int(b.data_offset) - int(r.data_offset), nbytes=int(b.n_bytes))
        got = {k: a[k] for k in want}
        if got != want:
            fail(f"{fname}: tensor {b.name}: hone {got} vs gguf-py {want}")
        if b.name != "rope_freqs.weight":
            n_params += int(b.n_elements)
    # type mix adds up
    mix = {}
    for b in r.tensors:
        c = mix.setdefault(b.tensor_type.name, [0, 0])
        c[0] += 1
        c[1] += int(b.n_bytes)
    got_mix = {k: [v["count"], v["bytes"]] for k, v in h["tensor_types"].items()}
    if got_mix != mix:
        fail(f"{fname}: tensor type mix {got_mix} vs {mix}")

    # ---- description summary
    d = h.get("model")
    if d is None:
        fail(f"{fname}: no model description: {h.get('model_error')}")
        return
    for k, v in EXPECT[fname].items():
        if d.get(k) != v:
            fail(f"{fname}: model.{k} = {d.get(k)!r}, expected {v!r}")
    if d["n_params"] != n_params:
        fail(f"{fname}: n_params {d['n_params']} vs gguf-py element sum {n_params}")
    if d["vocab"] != len(r.fields["tokenizer.ggml.tokens"].data):
        fail(f"{fname}: vocab {d['vocab']} vs token list")
    arch = d["architecture"]
    eps = float(r.fields[f"{arch}.attention.layer_norm_rms_epsilon"].contents())
    if d["rms_eps"] != eps:
        fail(f"{fname}: rms_eps {d['rms_eps']} vs {eps}")
    theta = float(r.fields[f"{arch}.rope.freq_base"].contents())
    if d["rope"]["theta"] != theta:
        fail(f"{fname}: rope theta {d['rope']['theta']} vs {theta}")
    if arch == "gemma3":
        want_lt = ["full" if i % 6 == 5 else "sliding" for i in range(18)]
        if d["layer_types"] != want_lt or d["rope"]["theta_local"] != 10000.0:
            fail(f"{fname}: gemma3 layer types {d['layer_types']} / local theta {d['rope']['theta_local']}")
    tok = h["tokenizer"]
    if tok["model"] != r.fields["tokenizer.ggml.model"].contents():
        fail(f"{fname}: tokenizer model {tok['model']}")
    if tok["chat_template"] != ("tokenizer.chat_template" in r.fields):
        fail(f"{fname}: chat_template flag {tok['chat_template']}")
    print(f"{fname}: compared {len(md)} metadata keys ({n_elems} values), {len(ts)} tensors "
          f"(name/type/shape/offset/nbytes), type mix and description "
          f"({d['architecture']}, {d['n_layers']} layers, hidden {d['hidden']}, vocab {d['vocab']}, "
          f"{d['n_params']} params)")


for name in EXPECT:
    check_model(name)
if failures:
    print(f"{len(failures)} mismatches")
    sys.exit(1)
print("inspect vs gguf-py: all equal")
