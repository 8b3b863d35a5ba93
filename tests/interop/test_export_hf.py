"""test_export_hf.py: HF folders written by hone (hone convert --outtype hf, hone fuse,
hone export-adapter --format peft) loaded by transformers and PEFT
(~/.cache/hone/venv-ref; skipped with a message when that venv is missing).

Part 1, the test venv (safetensors + numpy only): hone convert tiny HF -> f32 GGUF -> HF:
  every tensor of the exported model.safetensors equals the fixture's bit for bit (names,
  shapes, q/k rows un-permuted for llama, gemma3 norms shifted back), config.json keeps the
  shape keys, tokenizer files appear when the source has a tokenizer.
Part 2, transformers + PEFT (runs itself under venv-ref's python):
  - the exported folders of tiny-qwen2 and tiny-llama-rope3 (through GGUF: permutation and
    llama3 rope_freqs fitted back into rope_scaling) and of tiny-gemma3 and tiny-mistral
    (HF -> HF: the GGUF forms of these two lose query_pre_attn_scalar != head_dim and the
    llama-architecture sliding window, facts of the format) give transformers logits equal to
    hone's on the same folder (`hone logits --reference`), rel L2 <= 1e-5 (both f32; ~1e-7
    measured), and to the fixture's transformers logits of the source (same bound);
  - hone fuse of the tiny-qwen2 PEFT fixture (HF output, f32 base) equals transformers + PEFT
    on the unmerged base (rel L2 <= 1e-4: merged vs unmerged f32 rounding);
  - the PEFT adapter hone writes from the MLX fixture (export-adapter --format peft) loads in
    PEFT and reproduces hone's unmerged logits (rel L2 <= 1e-5).
  - HONE_TEST_FULL=1 with $HONE_MODELS: Gemma 3 270M and SmolLM2 GGUF -> HF (f16): transformers'
    tokenizer (AutoTokenizer on hone's tokenizer.json / tokenizer_config.json) gives hone's
    token ids for a few texts, its logits (f32 compute) equal hone's on the same folder
    (rel L2 <= 1e-4: f32 sums of 640-2048 terms in different orders through 18-30 layers), and
    the chat template renders.
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
REF_PY = os.path.expanduser("~/.cache/hone/venv-ref/bin/python")
failures = []
FULL = os.environ.get("HONE_TEST_FULL") == "1"
REAL = [("gemma3", "gemma-3-270m-q4_k_m.gguf"), ("smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")]


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def hone(*args):
    r = subprocess.run([HONE, *args], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"hone {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def hone_logits(path, ids, tmp, adapter=None):
    out = os.path.join(tmp, "h.f32")
    args = ["logits", "--reference", "--model", path, "--ids", ",".join(map(str, ids)), "--out", out]
    if adapter:
        args += ["--adapter-path", adapter]
    hone(*args)
    return np.fromfile(out, dtype="<f4").reshape(len(ids), -1)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def part_files(tmp):
    from safetensors.numpy import load_file
    made = {}
    for name, via_gguf in (("tiny-qwen2", True), ("tiny-llama-rope3", True), ("tiny-gemma3", False),
                           ("tiny-mistral", False)):
        src = os.path.join(FIX, "engine", name)
        dst = os.path.join(tmp, name + "-hf")
        if via_gguf:
            g = os.path.join(tmp, name + ".gguf")
            hone("convert", "--model", src, "--outfile", g, "--outtype", "f32")
            hone("convert", "--model", g, "--outfile", dst, "--outtype", "hf")
        else:
            hone("convert", "--model", src, "--outfile", dst, "--outtype", "hf")
        a = load_file(os.path.join(src, "model.safetensors"))
        b = load_file(os.path.join(dst, "model.safetensors"))
        a.pop("lm_head.weight", None) if json.load(open(os.path.join(src, "config.json"))).get(
            "tie_word_embeddings") else None
        bad = [n for n in a if n not in b or a[n].shape != b[n].shape or a[n].tobytes() != b[n].tobytes()]
        if bad or set(a) != set(b):
            fail(f"{name}: exported tensors differ from the source: {bad[:4]} {sorted(set(a) ^ set(b))[:4]}")
        ca, cb = json.load(open(os.path.join(src, "config.json"))), json.load(open(os.path.join(dst, "config.json")))
        for k in ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "num_key_value_heads", "vocab_size", "tie_word_embeddings", "rope_theta"):
            if k in ca and ca[k] != cb.get(k):
                fail(f"{name}: config.json {k} = {cb.get(k)}, source {ca[k]}")
        print(f"{name}: {len(b)} tensors bit-identical to the source{' (via f32 GGUF)' if via_gguf else ''}, "
              f"config shape keys equal")
        made[name] = dst
    return made


def part_ref(tmp, made):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(1)

    def tf_logits(path, ids, adapter=None):
        m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
        if adapter:
            from peft import PeftModel
            m = PeftModel.from_pretrained(m, adapter)
        m.eval()
        with torch.no_grad():
            return m(torch.tensor([ids])).logits[0].numpy()

    for name, path in made.items():
        if name.startswith("real-"):
            continue
        meta = json.load(open(os.path.join(FIX, "engine", name, "meta.json")))
        worst_h = worst_f = 0
        for p in meta["prompts"]:
            t = tf_logits(path, p["ids"])
            h = hone_logits(path, p["ids"], tmp)
            ref = np.fromfile(os.path.join(FIX, "engine", name, p["logits_file"]), dtype="<f4")
            worst_h = max(worst_h, rel(h, t))
            worst_f = max(worst_f, rel(t[-1], ref))
        msg = (f"{name}: transformers on hone's HF folder vs hone on it: rel L2 {worst_h:.2e}; "
               f"vs the source's fixture logits {worst_f:.2e} (<= 1e-5)")
        print(msg)
        if worst_h > 1e-5 or worst_f > 1e-5:
            fail(msg)

    if FULL:
        from transformers import AutoTokenizer
        for name, path in made.items():
            if not name.startswith("real-"):
                continue
            tok = AutoTokenizer.from_pretrained(path)
            for text in ("Hello world, this is a test.", "  spaces, ünïcödé, 日本語 and 🙂\n\nnew lines"):
                want = tok(text)["input_ids"]
                args = ["tokenize", "--model", path, "--ids"] + (["--bos"] if want and want[0] == tok.bos_token_id else [])
                got = [int(x) for x in hone(*args, text).split()]
                if got != want:
                    fail(f"{name}: {text!r}: transformers' tokenizer on hone's tokenizer.json gives {want[:12]}, "
                         f"hone {got[:12]}")
                ids = want
                t = tf_logits(path, ids)
                h = hone_logits(path, ids, tmp)
                e = rel(h, t)
                msg = f"{name}: transformers on hone's HF folder ({len(ids)} tokens) vs hone: rel L2 {e:.2e} (<= 1e-4)"
                print(msg)
                if e > 1e-4:
                    fail(msg)
            ct = (repr(tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)[:60])
                  if tok.chat_template else "(the source has no chat template)")
            print(f"{name}: transformers' tokenizer on hone's tokenizer.json = hone's ids; chat template: {ct}")

    # fused (hone fuse, HF output) vs PEFT unmerged on the base
    base = os.path.join(FIX, "engine", "tiny-qwen2")
    peft_dir = os.path.join(FIX, "adapter", "tiny-qwen2", "peft")
    fused = os.path.join(tmp, "fused")
    hone("fuse", "--model", base, "--adapter-path", peft_dir, "--save-path", fused)
    ids = json.load(open(os.path.join(FIX, "adapter", "tiny-qwen2", "meta.json")))["prompts"][-1]["ids"]
    a, b = tf_logits(fused, ids), tf_logits(base, ids, peft_dir)
    e, moved = rel(a, b), rel(tf_logits(base, ids), b)
    msg = f"hone fuse tiny-qwen2: transformers(fused) vs PEFT(base + adapter) rel L2 {e:.2e} (<= 1e-4; adapter moves {moved:.2e})"
    print(msg)
    if e > 1e-4 or moved < 1e-3:
        fail(msg)
    # PEFT loads hone's PEFT export of the MLX fixture
    pe = os.path.join(tmp, "peft-from-mlx")
    hone("export-adapter", "--adapter-path", os.path.join(FIX, "adapter", "tiny-qwen2", "mlx"), "--format", "peft",
         "--out", pe)
    a = tf_logits(base, ids, pe)
    h = hone_logits(base, ids, tmp, adapter=os.path.join(FIX, "adapter", "tiny-qwen2", "mlx"))
    e = rel(h, a)
    msg = f"PEFT with hone's export of the MLX adapter vs hone unmerged: rel L2 {e:.2e} (<= 1e-5)"
    print(msg)
    if e > 1e-5:
        fail(msg)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--ref":
        st = json.load(open(sys.argv[2]))
        part_ref(st["tmp"], st["made"])
        sys.exit(1 if failures else 0)
    if not os.path.exists(HONE):
        raise SystemExit(f"{HONE} not built")
    tmp = tempfile.mkdtemp(prefix="hone-export-hf-")
    try:
        made = part_files(tmp)
        models = os.environ.get("HONE_MODELS", "")
        for name, f in REAL if FULL else []:
            src = os.path.join(models, f)
            if not os.path.exists(src):
                print(f"skip {name}: {src} not found")
                continue
            dst = os.path.join(tmp, f"real-{name}")
            hone("convert", "--model", src, "--outfile", dst, "--outtype", "hf", "--dtype", "f16")
            made[f"real-{name}"] = dst
        if os.path.exists(REF_PY):
            sf = os.path.join(tmp, "state.json")
            json.dump({"tmp": tmp, "made": made}, open(sf, "w"))
            r = subprocess.run([REF_PY, os.path.abspath(__file__), "--ref", sf], capture_output=True, text=True)
            sys.stdout.write(r.stdout)
            if r.returncode:
                fail(f"transformers part failed: {r.stderr[-2000:]}")
        else:
            print(f"skip transformers / PEFT checks: {REF_PY} not found")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
