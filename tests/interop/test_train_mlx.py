"""test_train_mlx.py: mlx-lm loads the adapters `hone train` writes and computes the same
validation loss as hone (issue 5, item 5).

Flow (the reference venv's python runs this file; the mlx part re-runs it under
~/.cache/hone/venv-mlx's python, as test_export_gguf.py does with venv-llama; without that
venv the check is skipped with a message):
  1. A tiny qwen2 HF folder (tests/fixtures/engine/tiny-qwen2, f32, plus the synthetic
     byte-level BPE tokenizer of test_export_gguf.py: no BOS, EOS <|im_end|>), {"text"}
     records written here (one holds special-token text, one already ends with EOS).
  2. `hone train` on it (all layers, rank 8, 12 iterations at lr 1e-2 so the adapter moves
     the loss far more than the tolerance), then `hone train --test --json` on valid.jsonl
     (as test.jsonl, every batch): hone's token-weighted loss.
  3. mlx-lm: `mlx_lm.load(HF, adapter_path=...)`, its own dataset loader
     (tuner.datasets.load_local_dataset, no mask-prompt) and its own `evaluate()` with the
     same batch size over every batch.
Token ids: each record's ids from mlx-lm's dataset equal `hone tokenize --special` (+ EOS
  appended when missing, as both document) for text records, `hone tokenize --chat` for chat
  records; and the total and supervised token counts of `hone data check --model --json`
  (what `hone train` tokenizes) equal mlx-lm's.
mlx-lm's off-by-one: default_loss masks targets with `steps <= length` where step j+1 is the
  target of input j, so each example also scores the prediction of the padding id 0 after
  its last token (one extra target per example). Run verbatim, mlx-lm's number therefore
  differs from hone's (printed, and checked to differ); the comparison uses mlx-lm's own
  default_loss and evaluate() with each example's length passed as length - 1, which scores
  exactly the targets 1..L-1 (the tokens hone supervises without --mask-prompt).
--mask-prompt (prompt/completion records through the model's ChatML template, both sides with
  --mask-prompt): mlx-lm's offset is the token count of the prompt with the generation
  prompt, so it scores positions offset .. L: the completion, <|im_end|>, the template's "\n"
  after it and the pad. hone scores the completion and <|im_end|> only (issue 5: the final
  assistant message and its end-of-turn token). Aligned: length - 2; the test checks that
  hone's supervised positions (`hone tokenize --chat`) are exactly offset .. L-2 for every
  record before comparing the losses.
Tolerance 1e-3 absolute on the loss (the issue's bar). Both sides compute in float32 with
  different summation orders; the expected difference is ~1e-6 (float32 log-softmax over the
  vocabulary, averaged; 7e-7 measured on the tiny model, 9e-5 on Gemma 3 270M, whose
  262k-entry log-softmax sums in a different order); an error in the mask (one target
  more per example, as mlx-lm's verbatim run shows, moves the tiny model's mean by 0.026) or an
  adapter mlx-lm did not apply (the adapter moves the loss by > 1, checked) is far outside it.
HONE_TEST_FULL=1: the same on Gemma 3 270M (~/.cache/hone/gemma-3-270m-hf, f32 HF folder;
  $HONE_GEMMA_HF overrides) with an adapter trained by `hone train` on examples/train
  (num-layers 8, --mask-prompt, 30 iterations; or $HONE_MLX_ADAPTER) and the chat records of
  first 8 chat records of examples/train/valid.jsonl scored with --mask-prompt on both sides
  (mlx-lm needs minutes per evaluation pass of Gemma's 262k-token head on this CPU).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
FIX = os.path.join(ROOT, "tests", "fixtures")
MLX_PY = os.path.expanduser("~/.cache/hone/venv-mlx/bin/python")
GEMMA_HF = os.environ.get("HONE_GEMMA_HF", os.path.expanduser("~/.cache/hone/gemma-3-270m-hf"))
FULL = os.environ.get("HONE_TEST_FULL") == "1"
TOL = 1e-3  # see the docstring
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def hone(*args):
    r = subprocess.run([HONE, *args], capture_output=True, text=True, timeout=1800)
    if r.returncode:
        raise SystemExit(f"hone {' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


# ---------------------------------------------------------------- mlx-lm side (venv-mlx)

def mlx_part(state):
    """Prints one JSON line: ids of every record, mlx-lm's verbatim and aligned losses with the
    adapter, the aligned loss without it, and the token counts."""
    from pathlib import Path
    from types import SimpleNamespace

    import mlx.core as mx
    from mlx_lm import load
    from mlx_lm.tuner.datasets import CacheDataset, load_local_dataset
    from mlx_lm.tuner.trainer import default_loss, evaluate

    trail = state.get("trail", 1)

    def aligned_loss(model, batch, lengths):
        # lengths[:, 1] - trail: drop the extra target (pad id 0 after the last token), and
        # with --mask-prompt the template's tokens after the end-of-turn token, see above
        return default_loss(model, batch, mx.stack([lengths[:, 0], lengths[:, 1] - trail], axis=1))

    out = {}
    cfg = SimpleNamespace(mask_prompt=state.get("mask", False))
    for label, adapter in (("adapted", state["adapter"]), ("base", None)):
        model, tok = load(state["hf"], adapter_path=adapter)
        _, valid, _ = load_local_dataset(Path(state["data"]), tok, cfg)
        ds = CacheDataset(valid)
        if label == "adapted":
            items = [ds[i] for i in range(len(ds))]
            out["ids"] = [list(map(int, t)) for t, _ in items]
            out["offsets"] = [int(o) for _, o in items]
            if state.get("verbatim", True):
                out["verbatim"] = evaluate(model, ds, batch_size=state["batch"], num_batches=-1)
        out[label] = evaluate(model, ds, batch_size=state["batch"], num_batches=-1, loss=aligned_loss)
    print(json.dumps(out))


# ---------------------------------------------------------------- hone side (reference venv)

def hone_ids(hf, data_dir):
    """hone's token ids of every valid.jsonl record, as `hone train` builds them, and for chat
    records the positions `hone train --mask-prompt` supervises."""
    ids, sup = [], []
    with open(os.path.join(data_dir, "valid.jsonl")) as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            if "text" in rec:
                r = json.loads(hone("tokenize", "--model", hf, "--special", "--json", rec["text"]))
                ids.append(r["ids"])
                sup.append(None)
            else:
                if "prompt" in rec:
                    rec = {"messages": [{"role": "user", "content": rec["prompt"]},
                                        {"role": "assistant", "content": rec["completion"]}]}
                p = os.path.join(data_dir, f".rec{i}.json")
                with open(p, "w") as g:
                    json.dump(rec, g)
                r = json.loads(hone("tokenize", "--model", hf, "--chat", p, "--json"))
                ids.append(r["ids"])
                sup.append([t for t, m in enumerate(r["supervised"]) if m])
                os.unlink(p)
    return ids, sup


def compare(name, hf, data_dir, adapter, batch, tmp, eos_id=None, mask=False, trail=1, verbatim=True):
    # hone's loss: --test on valid.jsonl (copied to test.jsonl), every batch
    shutil.copy(os.path.join(data_dir, "valid.jsonl"), os.path.join(data_dir, "test.jsonl"))
    mp = ["--mask-prompt"] if mask else []
    out = hone("train", "--model", hf, "--data", data_dir, "--test", "--adapter-path", adapter,
               "--test-batches", "-1", "--batch-size", str(batch), "--json", *mp)
    hone_loss = json.loads(out.strip().splitlines()[-1])["test_loss"]
    chk = json.loads(hone("data", "check", os.path.join(data_dir, "valid.jsonl"), "--model", hf, "--json", *mp))
    toks = chk["files"][0]["tokens"]
    hids, hsup = hone_ids(hf, data_dir)
    if eos_id is not None:  # text records: EOS appended when missing (both sides document it)
        hids = [t if t and t[-1] == eos_id else t + [eos_id] for t in hids]

    sf = os.path.join(tmp, "state-%s.json" % "".join(c if c.isalnum() else "_" for c in name))
    with open(sf, "w") as f:
        json.dump({"hf": hf, "data": data_dir, "adapter": adapter, "batch": batch, "mask": mask, "trail": trail,
                   "verbatim": verbatim}, f)
    r = subprocess.run([MLX_PY, os.path.abspath(__file__), "--mlx", sf], capture_output=True, text=True,
                       timeout=3600)
    if r.returncode:
        check(False, f"{name}: mlx-lm part failed: {r.stderr[-2000:]}")
        return
    m = json.loads(r.stdout.strip().splitlines()[-1])

    same = [i for i, (a, b) in enumerate(zip(hids, m["ids"])) if a == b]
    check(len(hids) == len(m["ids"]) and len(same) == len(hids),
          f"{name}: token ids of all {len(hids)} records identical (hone tokenize vs mlx-lm's dataset); "
          f"differ: {[i for i in range(len(hids)) if i not in same][:5]}")
    n_total = sum(len(t) for t in m["ids"])
    if mask:  # mlx-lm's aligned range: token positions offset .. L - trail
        ranges = [list(range(o, len(t) - trail + 1)) for t, o in zip(m["ids"], m["offsets"])]
        check(ranges == hsup, f"{name}: the positions hone supervises under --mask-prompt (hone tokenize --chat) "
                              f"== mlx-lm's offset .. L-{trail} for every record")
        n_sup = sum(len(r) for r in ranges)
    else:
        n_sup = sum(len(t) - 1 for t in m["ids"])
    check(toks["total"] == n_total and toks["supervised"] == n_sup,
          f"{name}: hone data check tokens total/supervised {toks['total']}/{toks['supervised']} "
          f"== mlx-lm's {n_total}/{n_sup} (aligned targets)")
    d = abs(hone_loss - m["adapted"])
    check(d <= TOL, f"{name}: validation loss with hone's adapter: hone {hone_loss:.7f}, mlx-lm {m['adapted']:.7f} "
                    f"(|diff| {d:.2e} <= {TOL})")
    check(abs(m["adapted"] - m["base"]) > 100 * TOL,
          f"{name}: the adapter matters in mlx-lm: base {m['base']:.4f} vs adapted {m['adapted']:.4f}")
    m.setdefault("verbatim", float("nan"))
    if verbatim:
        check(abs(m["verbatim"] - m["adapted"]) > 10 * TOL,
              f"{name}: mlx-lm's evaluate() verbatim (also scores the pad id 0 after each example) gives "
              f"{m['verbatim']:.5f}, differing from the aligned {m['adapted']:.5f} as explained")
    print(f"RESULT {name}: hone {hone_loss:.7f} mlx-lm {m['adapted']:.7f} diff {d:.2e} "
          f"(base {m['base']:.5f}, mlx-lm verbatim {m['verbatim']:.5f}, {len(hids)} records, {n_sup} targets)")


TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "robots say beep boop and count to ten in the garden while the dog sleeps",
    "a lazy robot",
    "<|im_start|>user says hello and the robot answers beep<|im_end|>",
    "count jumps over ten foxes in the quick garden of the brown robot, then sleep",
    "beep boop beep boop: the robots jump, the dogs count, the foxes say nothing at all today",
]


def tiny(tmp):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_export_gguf import tiny_tokenizer
    hf = os.path.join(tmp, "tiny-qwen2")
    os.makedirs(hf)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(FIX, "engine", "tiny-qwen2", f), hf)
    tiny_tokenizer(hf)
    data = os.path.join(tmp, "tiny-data")
    os.makedirs(data)
    with open(os.path.join(data, "train.jsonl"), "w") as f:
        for i in range(16):
            f.write(json.dumps({"text": f"{TEXTS[i % 6]} and {TEXTS[(i * 5 + 1) % 6]}"}) + "\n")
    with open(os.path.join(data, "valid.jsonl"), "w") as f:
        for t in TEXTS:
            f.write(json.dumps({"text": t}) + "\n")
    ad = os.path.join(tmp, "tiny-adapter")
    hone("train", "--model", hf, "--data", data, "--iters", "12", "--batch-size", "2", "--num-layers", "-1",
         "--learning-rate", "1e-2", "--steps-per-report", "100", "--steps-per-eval", "1000", "--val-batches", "1",
         "--adapter-path", ad)
    compare("tiny-qwen2 (text records)", hf, data, ad, 2, tmp, eos_id=511)
    # --mask-prompt on prompt/completion records (ChatML: ... <|im_end|> "\n"): mlx-lm scores
    # positions offset .. L (L: the pad), hone the completion and <|im_end|>: offset .. L-2
    pc = os.path.join(tmp, "tiny-pc")
    os.makedirs(pc)
    with open(os.path.join(pc, "valid.jsonl"), "w") as f:
        for i, t in enumerate(TEXTS):
            f.write(json.dumps({"prompt": f"say {TEXTS[(i + 2) % 6]}", "completion": t}) + "\n")
    compare("tiny-qwen2 (prompt/completion, --mask-prompt)", hf, pc, ad, 2, tmp, mask=True, trail=2)


def gemma(tmp):
    if not os.path.exists(os.path.join(GEMMA_HF, "model.safetensors")):
        print(f"SKIP Gemma 3 270M: {GEMMA_HF} not found")
        return
    # the folder transformers wrote from the GGUF has no chat template (nor has the GGUF; hone
    # uses its built-in "gemma"): a copy (links) with Gemma 3's own template, the file
    # tests/ref/make_chat_fixture.py read (sha256 as recorded in tests/fixtures/chat_templates.json)
    import hashlib
    jinja = os.environ.get("HONE_GEMMA_JINJA", os.path.expanduser("~/.cache/hone/chat-ref/gemma3.jinja"))
    if not os.path.exists(jinja):
        print(f"SKIP Gemma 3 270M: {jinja} (Gemma 3's chat template, for mlx-lm) not found")
        return
    tmpl = open(jinja, encoding="utf-8").read()
    want = [t for t in json.load(open(os.path.join(FIX, "chat_templates.json")))["templates"] if t["name"] == "gemma"]
    check(bool(want) and hashlib.sha256(tmpl.encode()).hexdigest() == want[0]["sha256"],
          f"{jinja}: the Gemma 3 template hone's chat fixture was made from (sha256)")
    hf = os.path.join(tmp, "gemma-hf")
    os.makedirs(hf)
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        os.symlink(os.path.join(GEMMA_HF, f), os.path.join(hf, f))
    tc = json.load(open(os.path.join(GEMMA_HF, "tokenizer_config.json")))
    tc["chat_template"] = tmpl
    with open(os.path.join(hf, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f)
    data = os.path.join(tmp, "gemma-data")
    os.makedirs(data)
    # mlx-lm's CPU evaluation of the 262k-token head is slow (minutes per pass): the first
    # HONE_MLX_GEMMA_RECORDS (8) records, one batch, --mask-prompt (as the adapter was trained)
    n = int(os.environ.get("HONE_MLX_GEMMA_RECORDS", "8"))
    with open(os.path.join(ROOT, "examples", "train", "valid.jsonl")) as f:
        recs = f.readlines()[:n]
    with open(os.path.join(data, "valid.jsonl"), "w") as f:
        f.writelines(recs)
    ad = os.environ.get("HONE_MLX_ADAPTER")
    if not ad:
        ad = os.path.join(tmp, "gemma-adapter")
        hone("train", "--model", hf, "--data", os.path.join(ROOT, "examples", "train"), "--mask-prompt",
             "--num-layers", "8", "--batch-size", "4", "--iters", "30", "--learning-rate", "1e-4",
             "--steps-per-report", "10", "--steps-per-eval", "1000", "--val-batches", "1", "--adapter-path", ad)
    # Gemma's template ends a turn with <end_of_turn> "\n": the same alignment as ChatML
    compare("gemma-3-270m (examples/train valid, --mask-prompt)", hf, data, ad, len(recs), tmp, mask=True, trail=2,
            verbatim=False)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--mlx":
        mlx_part(json.load(open(sys.argv[2])))
        return
    if not os.path.exists(HONE):
        raise SystemExit(f"{HONE} not built")
    if not os.path.exists(MLX_PY):
        print(f"SKIP mlx-lm interop: {MLX_PY} not found (pip install 'mlx[cpu]' mlx-lm into ~/.cache/hone/venv-mlx)")
        return
    tmp = tempfile.mkdtemp(prefix="hone-train-mlx-")
    try:
        tiny(tmp)
        if FULL:
            gemma(tmp)
        else:
            print("skip Gemma 3 270M (set HONE_TEST_FULL=1)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
