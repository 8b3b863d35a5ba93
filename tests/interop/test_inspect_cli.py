"""test_inspect_cli.py: `hone inspect` end to end on the three kinds of PATH.

- an HF folder (config.json = the SmolLM2 fixture scaled down, weights written
  by the PyPI safetensors package, tokenizer_config.json with a chat template):
  the JSON description must match the config, n_params must equal the sum of
  numpy element counts, tensor shapes must be the numpy shapes reversed (ggml
  order), offsets/sizes those of the package's own header;
- `ollama:NAME:TAG` over a store built in a temp dir whose model blob is a
  symlink to the real Gemma GGUF (skipped if absent) or a GGUF written by
  gguf-py's GGUFWriter: same JSON as inspecting the file directly, plus the
  manifest path;
- flags and errors: --help exits 0; no PATH / unknown flag exit 2; a missing
  file, a corrupt GGUF and a missing ollama model exit 1 with ONE stderr line
  naming the path.
Exact comparisons (integers and strings only).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.path.join(ROOT, "build", "hone")
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def run(*args, env=None):
    return subprocess.run([HONE, "inspect", *args], capture_output=True, text=True, env=env)


def one_line_error(r, rc, needle, what):
    lines = r.stderr.strip().splitlines()
    if r.returncode != rc or len(lines) != 1 or needle not in lines[0]:
        fail(f"{what}: rc {r.returncode} (want {rc}), stderr {r.stderr!r} (want one line with {needle!r})")


tmp = tempfile.mkdtemp(prefix="hone-inspect-")
try:
    # ---- flags and errors
    r = run("--help")
    if r.returncode != 0 or "usage: hone inspect" not in r.stdout:
        fail(f"--help: rc {r.returncode} {r.stdout!r}")
    r = run()
    if r.returncode != 2:
        fail(f"no PATH: rc {r.returncode}")
    r = run("--bogus", "x")
    one_line_error(r, 2, "--bogus", "unknown flag")
    one_line_error(run("/nonexistent/model.gguf"), 1, "/nonexistent/model.gguf", "missing file")
    bad = os.path.join(tmp, "bad.gguf")
    with open(bad, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 1, 10**12))
    one_line_error(run(bad), 1, bad, "corrupt gguf")

    # ---- HF folder
    hf = os.path.join(tmp, "hf")
    os.makedirs(hf)
    with open(os.path.join(ROOT, "tests/fixtures/hf/smollm2-135m.json")) as f:
        cfg = json.load(f)
    cfg.update(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, vocab_size=50)
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(hf, "tokenizer_config.json"), "w") as f:
        json.dump({"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}, f)
    rng = np.random.default_rng(0)
    w = {"model.embed_tokens.weight": rng.standard_normal((50, 64)).astype(np.float16),
         "model.norm.weight": np.ones(64, dtype=np.float32)}
    for i in range(2):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = rng.standard_normal((64, 64)).astype(np.float32)
        w[p + "self_attn.k_proj.weight"] = rng.standard_normal((32, 64)).astype(np.float32)
        w[p + "mlp.up_proj.weight"] = rng.standard_normal((96, 64)).astype(np.float16)
    n_params = sum(a.size for a in w.values())
    # a tied checkpoint that still stores lm_head.weight: counted once
    w["lm_head.weight"] = w["model.embed_tokens.weight"].copy()
    save_file(w, os.path.join(hf, "model.safetensors"), metadata={"format": "pt"})
    r = run("--json", "--tensors", hf)
    if r.returncode != 0:
        fail(f"HF folder: rc {r.returncode}: {r.stderr}")
    else:
        h = json.loads(r.stdout)
        d = h.get("model", {})
        want = dict(architecture="llama", n_layers=2, hidden=64, ffn_hidden=96, n_heads=4, n_kv_heads=2,
                    head_dim=16, vocab=50, context=8192, tied_embeddings=True,
                    n_params=n_params)
        got = {k: d.get(k) for k in want}
        if got != want:
            fail(f"HF folder description {got} vs {want}")
        if h["tokenizer"]["chat_template"] is not True or h["metadata"] != {"format": "pt"}:
            fail(f"HF folder tokenizer/metadata {h['tokenizer']} {h['metadata']}")
        with open(os.path.join(hf, "model.safetensors"), "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            hdr = json.loads(f.read(n))
        ts = {t["name"]: t for t in h["tensors"]}
        for name, a in w.items():
            t = ts.get(name)
            want_t = dict(shape=list(a.shape)[::-1], st_shape=list(a.shape), offset=hdr[name]["data_offsets"][0],
                          nbytes=a.nbytes, type={"float16": "F16", "float32": "F32"}[a.dtype.name])
            if t is None or {k: t[k] for k in want_t} != want_t:
                fail(f"HF tensor {name}: {t} vs {want_t}")
        mix = h["tensor_types"]
        if mix["F16"]["bytes"] != sum(a.nbytes for a in w.values() if a.dtype == np.float16):
            fail(f"HF type mix {mix}")
        r3 = run("--json", "--tensors", os.path.join(hf, "config.json"))
        if r3.returncode != 0 or {k: v for k, v in json.loads(r3.stdout).items() if k != "path"} != \
                {k: v for k, v in h.items() if k != "path"}:
            fail(f"inspect FOLDER/config.json differs from inspect FOLDER: {r3.stderr}")
        r2 = run(hf)
        if r2.returncode != 0 or "architecture:   llama" not in r2.stdout or "chat template:  yes" not in r2.stdout:
            fail(f"HF text output: {r2.stdout[:300]!r} {r2.stderr!r}")
        print(f"HF folder: description, {len(w)} tensors (ggml shapes, offsets, sizes), mix, template: checked")
    # an unknown architecture in config.json is one line naming it
    cfg2 = dict(cfg, model_type="phi3", architectures=["Phi3ForCausalLM"])
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg2, f)
    r = run("--json", hf)
    if r.returncode != 0 or "phi3" not in json.loads(r.stdout).get("model_error", ""):
        fail(f"unknown architecture: rc {r.returncode} {r.stdout[:200]!r}")
    with open(os.path.join(hf, "config.json"), "w") as f:
        f.write('{\n "model_type": "llama",\n "hidden_size": ,\n}')
    one_line_error(run(hf), 1, "line 3", "bad config.json")

    # ---- ollama store
    store = os.path.join(tmp, "ollama")
    digest = "ab" * 32
    os.makedirs(os.path.join(store, "blobs"))
    blob = os.path.join(store, "blobs", "sha256-" + digest)
    real = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
    if os.path.exists(real):
        os.symlink(real, blob)
        direct = real
    else:
        print(f"[ note ] {real} absent: using a GGUF written by gguf-py")
        import gguf
        gw = gguf.GGUFWriter(blob, "llama")
        gw.add_block_count(2)
        gw.add_embedding_length(32)
        gw.add_feed_forward_length(64)
        gw.add_head_count(2)
        gw.add_layer_norm_rms_eps(1e-5)
        gw.add_token_list(["a", "b", "c"])
        gw.add_tensor("token_embd.weight", np.zeros((3, 32), dtype=np.float32))
        gw.write_header_to_file()
        gw.write_kv_data_to_file()
        gw.write_tensors_to_file()
        gw.close()
        direct = blob
    mdir = os.path.join(store, "manifests", "registry.ollama.ai", "library", "gemma3")
    os.makedirs(mdir)
    with open(os.path.join(mdir, "270m"), "w") as f:
        json.dump({"schemaVersion": 2, "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + digest, "size": 1}]}, f)
    env = dict(os.environ, OLLAMA_MODELS=store)
    r = run("--json", "--tensors", "ollama:gemma3:270m", env=env)
    r_direct = run("--json", "--tensors", direct)
    if r.returncode != 0:
        fail(f"ollama: rc {r.returncode}: {r.stderr}")
    else:
        h, hd = json.loads(r.stdout), json.loads(r_direct.stdout)
        if h["ollama"]["manifest"] != os.path.join(mdir, "270m") or h["ollama"]["model"] != blob:
            fail(f"ollama paths {h['ollama']}")
        for k in ("model", "metadata", "tensors", "tensor_types", "tokenizer"):
            if h[k] != hd[k]:
                fail(f"ollama: '{k}' differs from inspecting the file directly")
        print(f"ollama:gemma3:270m -> {h['ollama']['model']}: same description, metadata and tensors as the file")
    one_line_error(run("ollama:gemma3:1b", env=env), 1, os.path.join(mdir, "1b"), "missing ollama tag")
finally:
    shutil.rmtree(tmp)

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("inspect CLI: all checks passed")
