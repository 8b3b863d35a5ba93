"""test_export_gguf.py: hone's GGUF export (hone convert / fuse / export-adapter --format gguf)
read back by gguf-py, and, where ~/.cache/hone/venv-llama exists, loaded by llama.cpp
(llama-cpp-python) and compared with hone on the same file.

Part 1, gguf-py (always; the CI venv):
  - a tiny qwen2 HF folder (tests/fixtures/engine/tiny-qwen2 + a synthetic byte-level BPE
    tokenizer.json written here: 256 byte tokens, 253 merges, 3 ChatML specials, Qwen2's
    tokenizer.json pre-tokenizer regex) -> `hone convert --outtype f32|f16|q8_0|q4_0`:
    every metadata key llama.cpp reads for qwen2, with its exact GGUF value type and value;
    tokenizer.ggml.pre = "qwen2" (the HF regex recognised); tokens / token_type / merges as
    in tokenizer.json; f32 tensors bit-identical to model.safetensors under llama.cpp's names;
    f16 / q8_0 / q4_0 bytes identical to gguf-py's quantizers of the same f32 values (no
    tolerance: same arithmetic, ggml's *_ref).
  - with HONE_TEST_FULL=1 and $HONE_MODELS (minutes on 2 cores): SmolLM2 (Q4_1) and Gemma 3 270M (Q4_K_M) -> f16: the generated
    architecture keys equal the values AND types llama.cpp's converter wrote in the source
    files, tokenizer.* keys identical, every tensor exactly float16(gguf-py's dequantization);
    Gemma f16 -> q4_k_m: the per-tensor types equal llama.cpp's choices in the original
    Q4_K_M file (its attn_v / ffn_down Q6_K layers, the Q5_0 / Q8_0 fallbacks of 640-wide
    rows) and the file size is identical.
  - the GGUF LoRA of the tiny-qwen2 adapter fixture: general.type adapter, adapter.type lora,
    adapter.lora.alpha = scale * r, and llama.cpp's shape rules (W.ne[0] == a.ne[0],
    W.ne[1] == b.ne[1], a.ne[1] == b.ne[0]) against the exported base.
Part 2, llama.cpp (venv-llama present; skipped with a message otherwise): this script runs
  itself under that python and loads the exported GGUFs: tiny qwen2 f32 / f16, SmolLM2 f16 and
  Gemma 3 270M fused with an adapter trained by `hone train` (f16; $HONE_FUSE_ADAPTER or a 20-iteration run on examples/train); logits of every position vs
  `hone logits` on the same file: rel L2 <= 5e-3 for the tiny f32 model, <= 1e-2 for f16 weights (llama.cpp rounds activations to f16 before f16 dot
  products, hone keeps them f32: ~1e-3 measured), and the top-1 at every position and 64
  greedy tokens identical; the tiny base + GGUF LoRA (llama.cpp --lora) vs hone with the same
  adapter unmerged: rel L2 <= 5e-3. (Real models only with HONE_TEST_FULL=1.)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.path.join(ROOT, "build", "hone")
FIX = os.path.join(ROOT, "tests", "fixtures")
LLAMA_PY = os.path.expanduser("~/.cache/hone/venv-llama/bin/python")
failures = []
FULL = os.environ.get("HONE_TEST_FULL") == "1"
# llama.cpp keeps its KV cache in f16 by default (hone: f32), so even f32 weights give
# ~1e-3 relative differences in the logits (6e-4 measured on tiny-qwen2): 5e-3.
TOL_F32 = 5e-3
# f16 weights: llama.cpp also rounds activations to f16 for its f16 dot products (hone keeps
# them f32): ~1e-3 measured on SmolLM2 / Gemma 3 270M, 1e-2 leaves room for longer prompts.
TOL_F16 = 1e-2


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def hone(*args):
    r = subprocess.run([HONE, *args], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"hone {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


QWEN2_RX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
            "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def tiny_tokenizer(d):
    """A 512-id byte-level BPE for the tiny models: bytes, 253 merges, 3 specials."""
    bu = bytes_to_unicode()
    vocab = {bu[b]: b for b in range(256)}
    merges = []
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    sp = bu[ord(" ")]
    pairs = [(sp, c) for c in letters] + [(a, b) for a in letters for b in letters]
    for a, b in pairs:
        if len(vocab) >= 509:
            break
        vocab[a + b] = len(vocab)
        merges.append([a, b])
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = [{"id": 509 + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(specials)]
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": QWEN2_RX}, "behavior": "Isolated", "invert": False},
              {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                             "use_regex": False},
          "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
          "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                    "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                    "ignore_merges": False, "vocab": vocab, "merges": merges}}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": False, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                   "chat_template": CHATML}, f)
    return vocab, merges, specials


def kv(reader):
    import gguf
    out = {}
    for k, v in reader.fields.items():
        if k.startswith("GGUF."):
            continue
        types = [gguf.GGUFValueType(t).name for t in v.types]
        out[k] = (types, v.contents())
    return out


def part_ggufpy(tmp):
    import gguf
    from gguf.quants import dequantize, quantize
    from safetensors.numpy import load_file
    QT = gguf.GGMLQuantizationType
    hf = os.path.join(tmp, "tiny-qwen2")
    os.makedirs(hf)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(FIX, "engine", "tiny-qwen2", f), hf)
    vocab, merges, specials = tiny_tokenizer(hf)
    st = load_file(os.path.join(hf, "model.safetensors"))
    cfg = json.load(open(os.path.join(hf, "config.json")))

    def gname(n):
        n = n.replace("model.embed_tokens.", "token_embd.").replace("model.norm.", "output_norm.")
        n = n.replace("model.layers.", "blk.").replace(".self_attn.q_proj", ".attn_q")
        n = n.replace(".self_attn.k_proj", ".attn_k").replace(".self_attn.v_proj", ".attn_v")
        n = n.replace(".self_attn.o_proj", ".attn_output").replace(".mlp.gate_proj", ".ffn_gate")
        n = n.replace(".mlp.up_proj", ".ffn_up").replace(".mlp.down_proj", ".ffn_down")
        return n.replace(".input_layernorm", ".attn_norm").replace(".post_attention_layernorm", ".ffn_norm")

    files = {}
    for ty in ("f32", "f16", "q8_0", "q4_0"):
        files[ty] = os.path.join(tmp, f"tiny-qwen2-{ty}.gguf")
        hone("convert", "--model", hf, "--outfile", files[ty], "--outtype", ty)
    r = gguf.GGUFReader(files["f32"])
    k = kv(r)
    want = {
        "general.architecture": (["STRING"], "qwen2"), "general.type": (["STRING"], "model"),
        "general.file_type": (["UINT32"], 0), "general.quantization_version": (["UINT32"], 2),
        "qwen2.context_length": (["UINT32"], cfg["max_position_embeddings"]),
        "qwen2.embedding_length": (["UINT32"], cfg["hidden_size"]),
        "qwen2.block_count": (["UINT32"], cfg["num_hidden_layers"]),
        "qwen2.feed_forward_length": (["UINT32"], cfg["intermediate_size"]),
        "qwen2.attention.head_count": (["UINT32"], cfg["num_attention_heads"]),
        "qwen2.attention.head_count_kv": (["UINT32"], cfg["num_key_value_heads"]),
        "qwen2.rope.freq_base": (["FLOAT32"], float(np.float32(cfg["rope_theta"]))),
        "qwen2.attention.layer_norm_rms_epsilon": (["FLOAT32"], float(np.float32(cfg["rms_norm_eps"]))),
        "tokenizer.ggml.model": (["STRING"], "gpt2"), "tokenizer.ggml.pre": (["STRING"], "qwen2"),
        "tokenizer.ggml.eos_token_id": (["UINT32"], 511), "tokenizer.ggml.padding_token_id": (["UINT32"], 509),
        "tokenizer.ggml.add_bos_token": (["BOOL"], False), "tokenizer.chat_template": (["STRING"], CHATML),
    }
    for key, (types, val) in want.items():
        got = k.get(key)
        if got is None:
            fail(f"tiny-qwen2 f32: key {key} missing")
        elif got[0] != types or (got[1] != val and not (isinstance(val, float) and np.float32(got[1]) == np.float32(val))):
            fail(f"tiny-qwen2 f32: {key} = {got}, expected {types} {val!r}")
    toks = k["tokenizer.ggml.tokens"]
    inv = {i: t for t, i in vocab.items()}
    exp_toks = [inv.get(i) or specials[i - 509] for i in range(512)]
    if toks[0] != ["ARRAY", "STRING"] or toks[1] != exp_toks:
        fail("tokenizer.ggml.tokens differ from tokenizer.json")
    tt = k["tokenizer.ggml.token_type"]
    if tt[0] != ["ARRAY", "INT32"] or tt[1] != [1] * 509 + [3] * 3:
        fail(f"tokenizer.ggml.token_type: {tt[0]} {tt[1][505:]}")
    mg = k["tokenizer.ggml.merges"]
    if mg[0] != ["ARRAY", "STRING"] or mg[1] != [f"{a} {b}" for a, b in merges]:
        fail("tokenizer.ggml.merges differ from tokenizer.json")
    print(f"tiny-qwen2 f32: {len(want)} metadata keys and the tokenizer arrays as llama.cpp expects")
    tens = {t.name: t for t in r.tensors}
    expect = {gname(n): v for n, v in st.items() if n != "lm_head.weight"}
    if set(tens) != set(expect):
        fail(f"tensor names: {sorted(set(tens) ^ set(expect))}")
    for ty, qt in (("f32", QT.F32), ("f16", QT.F16), ("q8_0", QT.Q8_0), ("q4_0", QT.Q4_0)):
        rt = {t.name: t for t in gguf.GGUFReader(files[ty]).tensors}
        bad = 0
        for n, v in expect.items():
            t = rt[n]
            want_t = QT.F32 if v.ndim == 1 else qt
            if n == "token_embd.weight" and qt == QT.Q4_0:
                want_t = QT.Q8_0  # llama.cpp: the (tied) LM head gets Q6_K, Q8_0 when rows are not 256-multiples
            ref = v.astype(np.float32) if want_t == QT.F32 else quantize(v.astype(np.float32), want_t)
            if t.tensor_type != want_t or t.data.tobytes() != np.ascontiguousarray(ref).tobytes():
                bad += 1
                if bad < 3:
                    fail(f"tiny-qwen2 {ty}: tensor {n} ({t.tensor_type.name}) differs from gguf-py's {want_t.name}")
        print(f"tiny-qwen2 {ty}: {len(expect)} tensors, bytes identical to gguf-py: {len(expect) - bad}")

    # GGUF LoRA of the adapter fixture against the exported base
    lora = os.path.join(tmp, "lora.gguf")
    hone("export-adapter", "--adapter-path", os.path.join(FIX, "adapter", "tiny-qwen2", "peft"), "--format", "gguf",
         "--out", lora, "--model", files["f32"])
    lr = gguf.GGUFReader(lora)
    lk = kv(lr)
    acfg = json.load(open(os.path.join(FIX, "adapter", "tiny-qwen2", "peft", "adapter_config.json")))
    for key, val in (("general.type", (["STRING"], "adapter")), ("adapter.type", (["STRING"], "lora")),
                     ("general.architecture", (["STRING"], "qwen2")),
                     ("adapter.lora.alpha", (["FLOAT32"], float(acfg["lora_alpha"])))):
        if lk.get(key) != val:
            fail(f"GGUF LoRA {key} = {lk.get(key)}, expected {val}")
    lt = {t.name: t for t in lr.tensors}
    nchk = 0
    for n, a in lt.items():
        if not n.endswith(".lora_a"):
            continue
        base = n[:-len(".lora_a")]
        b = lt.get(base + ".lora_b")
        w = tens.get(base)
        if b is None or w is None or w.shape[0] != a.shape[0] or w.shape[1] != b.shape[1] or a.shape[1] != b.shape[0]:
            fail(f"GGUF LoRA {n}: shapes {a.shape} / {None if b is None else b.shape} vs base {None if w is None else w.shape}")
        nchk += 1
    if nchk != 14:
        fail(f"GGUF LoRA: {nchk} pairs, expected 14 (7 projections x 2 layers)")
    print(f"GGUF LoRA: {nchk} lora_a/lora_b pairs pass llama.cpp's shape rules, alpha {lk['adapter.lora.alpha'][1]}")

    # hone fuse --ollama: Modelfile beside the GGUF, `ollama create` printed
    fused = os.path.join(tmp, "fused")
    out = hone("fuse", "--model", hf, "--adapter-path", os.path.join(FIX, "adapter", "tiny-qwen2", "mlx"),
               "--save-path", fused, "--export-gguf", "--gguf-type", "q8_0", "--ollama", "tiny-fused")
    mf = open(os.path.join(fused, "Modelfile")).read()
    want_lines = ["FROM ggml-model-q8_0.gguf", 'PARAMETER stop "<|im_end|>"', "<|im_start|>{{ .Role }}"]
    missing = [w for w in want_lines if w not in mf]
    if missing or f"ollama create tiny-fused -f {os.path.join(fused, 'Modelfile')}" not in out:
        fail(f"Modelfile / ollama command: missing {missing}; stdout {out!r}")
    if not os.path.exists(os.path.join(fused, "ggml-model-q8_0.gguf")) or not os.path.exists(
            os.path.join(fused, "model.safetensors")):
        fail("hone fuse: GGUF or HF output missing")
    print("hone fuse --ollama: HF folder, q8_0 GGUF, Modelfile (FROM, ChatML TEMPLATE, PARAMETER stop) and the "
          "ollama create command")
    return hf, files, lora


def part_real(tmp):
    import gguf
    from gguf.quants import dequantize
    models = os.environ.get("HONE_MODELS", "")
    out = {}
    for name, fname in (("smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"), ("gemma3", "gemma-3-270m-q4_k_m.gguf")):
        src = os.path.join(models, fname)
        if not models or not os.path.exists(src):
            print(f"skip {name}: {src if models else 'HONE_MODELS is not set'} not found")
            continue
        dst = os.path.join(tmp, f"{name}-f16.gguf")
        hone("convert", "--model", src, "--outfile", dst, "--outtype", "f16")
        a, b = gguf.GGUFReader(src), gguf.GGUFReader(dst)
        ka, kb = kv(a), kv(b)
        arch = ka["general.architecture"][1]
        nk = 0
        for key, val in ka.items():
            if key.startswith(arch + ".") or key.startswith("tokenizer.") or key in ("general.name", "general.license"):
                nk += 1
                if kb.get(key) != val:
                    fail(f"{name} f16: {key} = {str(kb.get(key))[:80]}, source {str(val)[:80]}")
        ta = {t.name: t for t in a.tensors}
        bad = 0
        for t in b.tensors:
            s = ta[t.name]
            ref = dequantize(s.data, s.tensor_type).astype(np.float32)
            if t.tensor_type == gguf.GGMLQuantizationType.F16:
                ref = ref.astype(np.float16)
            if t.data.tobytes() != ref.tobytes():
                bad += 1
        if bad or len(b.tensors) != len(a.tensors):
            fail(f"{name} f16: {bad} of {len(b.tensors)} tensors differ from float16(gguf-py dequantize)")
        print(f"{name} f16: {nk} architecture / tokenizer keys equal llama.cpp's (value and type); "
              f"{len(b.tensors)} tensors = float16(dequantized source) exactly")
        out[name] = dst
        if name == "gemma3":
            q = os.path.join(tmp, "gemma3-q4km.gguf")
            hone("convert", "--model", dst, "--outfile", q, "--outtype", "q4_k_m")
            c = gguf.GGUFReader(q)
            tc = {t.name: t.tensor_type for t in c.tensors}
            diff = [(n, t.tensor_type.name, tc.get(n)) for n, t in ta.items() if tc.get(n) != t.tensor_type]
            if diff:
                fail(f"gemma3 q4_k_m: types differ from llama.cpp's file: {diff[:5]}")
            if os.path.getsize(q) != os.path.getsize(src):
                fail(f"gemma3 q4_k_m: {os.path.getsize(q)} bytes, llama.cpp's file {os.path.getsize(src)}")
            print(f"gemma3 q4_k_m: all {len(tc)} tensor types equal llama.cpp's choices, size {os.path.getsize(q)} "
                  f"bytes = llama.cpp's")
    return out


def part_llama(tmp, hf, files, lora, real):
    """Runs under venv-llama's python (llama_cpp importable)."""
    import llama_cpp as L
    sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
    from make_engine_llamacpp import Runner

    @L.llama_log_callback
    def quiet(level, text, user_data):
        pass
    L.llama_log_set(quiet, None)

    def compare(label, path, ids, tol, greedy=64, adapter=None, hone_adapter=None):
        r = Runner(path, 256, 2)
        if adapter:
            ad = L.llama_adapter_lora_init(r.model, adapter.encode())
            if not ad:
                fail(f"{label}: llama.cpp refuses the GGUF LoRA {adapter}")
                return
            scales = (ctypes.c_float * 1)(1.0)
            ads = (L.llama_adapter_lora_p_ctypes * 1)(ad)
            if L.llama_set_adapters_lora(r.ctx, ads, 1, scales) != 0:
                fail(f"{label}: llama_set_adapters_lora failed")
                return
        lg = r.eval_all(ids)
        args = ["logits", "--model", path, "--ids", ",".join(map(str, ids)), "--out", os.path.join(tmp, "h.f32")]
        if greedy:
            args += ["--greedy", str(greedy)]
        if hone_adapter:
            args += ["--adapter-path", hone_adapter]
        out = hone(*args)
        h = np.fromfile(os.path.join(tmp, "h.f32"), dtype="<f4").reshape(len(ids), -1)
        rel = float(np.linalg.norm(h - lg) / np.linalg.norm(lg))
        agree = float(np.mean(h.argmax(1) == lg.argmax(1)))
        msg = f"{label}: llama.cpp vs hone logits ({len(ids)} positions) rel L2 {rel:.2e} (<= {tol:g}), top-1 agree {agree:.0%}"
        if hone_adapter:  # the adapter must matter, or this comparison could not fail
            hone("logits", "--model", path, "--ids", ",".join(map(str, ids)), "--out", os.path.join(tmp, "b.f32"))
            b = np.fromfile(os.path.join(tmp, "b.f32"), dtype="<f4").reshape(len(ids), -1)
            moved = float(np.linalg.norm(h - b) / np.linalg.norm(b))
            msg += f"; the adapter moves hone's logits by {moved:.2e}"
            if moved < 10 * tol:
                fail(msg + " (too little to test)")
        if rel > tol or agree < 1:
            fail(msg)
        if greedy:
            r.reset()
            last = r.decode(ids, lambda k: k == len(ids) - 1)[len(ids) - 1]
            toks = []
            for _ in range(greedy):
                t = int(np.argmax(last))
                toks.append(t)
                last = r.decode([t], lambda k: True)[0]
            hg = [int(x) for x in out.strip().split(",")]
            same = sum(x == y for x, y in zip(hg, toks))
            msg += f", {greedy} greedy tokens identical: {same}/{greedy}"
            if hg != toks:
                fail(msg)
        print(msg)
        r.close()

    import ctypes  # noqa: F401  (used in compare)
    globals()["ctypes"] = ctypes
    ids = [ord(c) for c in "the quick brown fox"] + [300, 17, 42]
    compare("tiny-qwen2 f32", files["f32"], ids, TOL_F32)
    compare("tiny-qwen2 f16", files["f16"], ids, TOL_F16)
    compare("tiny-qwen2 f32 + GGUF LoRA", files["f32"], ids, TOL_F32, greedy=0, adapter=lora,
            hone_adapter=os.path.join(FIX, "adapter", "tiny-qwen2", "peft"))
    for name, path in real.items():
        r = Runner(path, 64, 2)
        toks = r.tokenize("The capital of France is Paris, and the capital of Germany is", True, False)
        r.close()
        compare(f"{name} ({os.path.basename(path)})", path, toks, TOL_F16)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--llama":
        state = json.load(open(sys.argv[2]))
        part_llama(state["tmp"], state["hf"], state["files"], state["lora"], state["real"])
        sys.exit(1 if failures else 0)
    else:
        if not os.path.exists(HONE):
            raise SystemExit(f"{HONE} not built")
        tmp = tempfile.mkdtemp(prefix="hone-export-")
        try:
            hf, files, lora = part_ggufpy(tmp)
            real = part_real(tmp) if FULL else {}
            if not FULL:
                print("skip SmolLM2 / Gemma 3 270M checks (set HONE_TEST_FULL=1 and HONE_MODELS)")
            if "gemma3" in real:  # fused with an adapter trained by hone train: the llama.cpp check's Gemma case
                ad = os.environ.get("HONE_FUSE_ADAPTER")  # e.g. the examples/train real run's folder
                if not ad:  # a short real run on examples/train (the "Beep boop!" set), mask-prompt
                    ad = os.path.join(tmp, "gemma-adapter")
                    ex = os.path.join(ROOT, "examples", "train")
                    hone("train", "--model", os.path.join(os.environ["HONE_MODELS"], "gemma-3-270m-q4_k_m.gguf"),
                         "--train-data", os.path.join(ex, "train.jsonl"), "--valid-data", os.path.join(ex, "valid.jsonl"),
                         "--num-layers", "8", "--batch-size", "1", "--num-iters", "20", "--learning-rate", "1e-4",
                         "--mask-prompt", "--val-batches", "2", "--adapter-path", ad)
                print(f"gemma3 fuse: adapter {ad}")
                fused = os.path.join(tmp, "gemma3-fused-f16.gguf")
                hone("fuse", "--model", os.path.join(os.environ["HONE_MODELS"], "gemma-3-270m-q4_k_m.gguf"),
                     "--adapter-path", ad, "--no-hf", "--export-gguf", "--gguf-path", fused)
                real["gemma3+adapter"] = fused
            if os.path.exists(LLAMA_PY):
                sf = os.path.join(tmp, "state.json")
                json.dump({"tmp": tmp, "hf": hf, "files": files, "lora": lora, "real": real}, open(sf, "w"))
                r = subprocess.run([LLAMA_PY, os.path.abspath(__file__), "--llama", sf], capture_output=True, text=True)
                sys.stdout.write(r.stdout)
                if r.returncode:
                    fail(f"llama.cpp part failed: {r.stderr[-2000:]}")
            else:
                print(f"skip llama.cpp checks: {LLAMA_PY} not found")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
