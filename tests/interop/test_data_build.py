"""test_data_build.py: `hone data build` end to end with the Gemma 3 270M engine (skipped with a
message when the model is absent). Issue 6, items 2 and 3.

2. build: examples/data/probes-mini.jsonl (4 probes, written for the project) with the kernel
   examples/data/kernels/brief-honest.txt signed as the system message, 2 samples, --max-tokens
   8 (so it stays fast: most answers are cut, so --keep-truncated keeps them, flagged): 8
   records, one per (probe, sample), in cell order, unsigned training prompt (the kernel is in
   no record) and the probe's category/lang kept; `hone data check --model` on it exits 0; the
   provenance has one line per cell with the kernel's SHA-256 (computed here with hashlib) and
   `truncated` == (finish_reason == "length"); a rerun generates nothing and rewrites identical
   files; without --keep-truncated (an output-only setting, same journal) exactly the
   non-truncated cells are written; --train-prompt signed puts the kernel in the system message;
   another --seed on the same journal is refused (exit 1, "other generation settings"); when the
   binary has `hone train` (branch train-loop), `data split` + `hone train --data` run 2
   iterations on the set and write adapters (skipped with a message otherwise).
3. kill -9 (2 probes x 2 samples): run A uninterrupted; run B is sent SIGKILL once its journal
   holds a cell, then a
   torn half line is appended to the journal (what a kill in the middle of a write leaves), and
   B is rerun: B's output equals A's byte for byte, holds exactly one record per (probe,
   sample), and B's journal holds each cell once.
"""
import collections
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
PROBES = os.path.join(ROOT, "examples", "data", "probes-mini.jsonl")
KERNEL = os.path.join(ROOT, "examples", "data", "kernels", "brief-honest.txt")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def build_cmd(out, *extra, probes=PROBES, max_tokens="8"):
    return [HONE, "data", "build", "--probes", probes, "--kernel", KERNEL, "--mode", "system",
            "--generator", GEMMA, "--samples", "2", "--max-tokens", max_tokens, "--seed", "7",
            "--out", out] + list(extra)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def lines(path):
    return [json.loads(l) for l in open(path, encoding="utf-8")]


def test_build(d):
    out = os.path.join(d, "set.jsonl")
    t0 = time.time()
    rc, _, err = run(build_cmd(out, "--keep-truncated"))
    check(rc == 0, "build rc 0 in %.1f s (%s)" % (time.time() - t0, err.strip().splitlines()[-1] if err.strip() else ""))
    recs = lines(out)
    probes = [json.loads(l) for l in open(PROBES, encoding="utf-8")]
    want_keys = [(p["id"], s) for p in probes for s in range(2)]
    check([(r["id"], r["sample"]) for r in recs] == want_keys, "one record per (probe, sample), in cell order")
    kernel = open(KERNEL, encoding="utf-8").read()
    check(all(r["messages"][0]["role"] == "user" and len(r["messages"]) == 2 for r in recs),
          "unsigned: [user, assistant], no system message")
    check(all(r["messages"][0]["content"] == next(p["prompt"] for p in probes if p["id"] == r["id"]) for r in recs),
          "the user message is the probe's prompt as written")
    check(all(r["category"] == next(p["category"] for p in probes if p["id"] == r["id"]) for r in recs),
          "category kept")
    rc, outp, err = run([HONE, "data", "check", out, "--model", GEMMA, "--mask-prompt", "--json"])
    js = json.loads(outp) if outp.strip().startswith("{") else {"errors": -1, "diagnostics": []}
    check(rc == 0 and js["errors"] == 0, "data check --model passes (rc %d, %d warnings: %s)" % (
        rc, js.get("warnings", -1), sorted(set(x["kind"] for x in js["diagnostics"]))))
    prov = lines(os.path.join(d, "set.provenance.jsonl"))
    ksha = hashlib.sha256(open(KERNEL, "rb").read()).hexdigest()
    check(len(prov) == 8 and all(p["kernels"][0]["sha256"] == ksha for p in prov), "provenance: 8 lines, kernel sha256")
    check(all(p["truncated"] == (p["finish_reason"] == "length") and p["included"] for p in prov),
          "provenance: truncated flags the cut answers, all included (--keep-truncated)")
    check(all(p["generator"]["kind"] == "local" and p["generator"]["identity"].startswith("sha256:")
              and p["sampling"]["max_tokens"] == 8 and p["mode"] == "system" for p in prov), "provenance fields")
    n_trunc = sum(p["truncated"] for p in prov)
    test_train(d, out)
    before = open(out, "rb").read(), open(os.path.join(d, "set.provenance.jsonl"), "rb").read()
    rc, _, err = run(build_cmd(out, "--keep-truncated"))
    after = open(out, "rb").read(), open(os.path.join(d, "set.provenance.jsonl"), "rb").read()
    check(rc == 0 and "8 from the journal, 0 generated now" in err and before == after,
          "rerun: nothing generated, identical files")
    rc, _, err = run(build_cmd(out))
    check(rc == 0 and len(lines(out)) == 8 - n_trunc,
          "without --keep-truncated: %d of 8 written (%d truncated)" % (len(lines(out)), n_trunc))
    rc, _, err = run(build_cmd(out, "--keep-truncated", "--train-prompt", "signed", "--format", "prompt-completion"))
    recs = lines(out)
    check(rc == 0 and all(r["system"] == kernel.rstrip() and "prompt" in r for r in recs),
          "--train-prompt signed --format prompt-completion: the kernel is the system text")
    cmd = build_cmd(out)
    cmd[cmd.index("--seed") + 1] = "8"
    rc, _, err = run(cmd)
    check(rc == 1 and "other generation settings" in err, "another seed on the same journal: refused")


def test_train(d, out):
    """split the built set, then `hone train` runs a few iterations on it (when the binary has it)."""
    rc, _, err = run([HONE, "train", "--help"])
    if rc != 0:
        print("skip hone train: not in this build (%s)" % err.strip()[:80])
        return
    sd = os.path.join(d, "split")
    rc, outp, err = run([HONE, "data", "split", out, "--out", sd, "--valid-count", "2", "--seed", "1"])
    check(rc == 0 and len(lines(os.path.join(sd, "valid.jsonl"))) == 2, "data split: 6 train / 2 valid (%s)" % outp.strip())
    ad = os.path.join(d, "adapters")
    t0 = time.time()
    rc, outp, err = run([HONE, "train", "--model", GEMMA, "--train", "--data", sd, "--iters", "2", "--batch-size", "1",
                         "--num-layers", "1", "--steps-per-report", "1", "--steps-per-eval", "2", "--val-batches", "1",
                         "--mask-prompt", "--max-seq-length", "256", "--adapter-path", ad])
    check(rc == 0 and os.path.exists(os.path.join(ad, "adapters.safetensors")),
          "hone train consumes it: 2 iterations in %.1f s, adapters written (rc %d%s)" % (
              time.time() - t0, rc, "" if rc == 0 else ": " + (err.strip().splitlines() or [""])[-1]))


def test_kill(d):
    probes = os.path.join(d, "p3.jsonl")
    with open(PROBES, encoding="utf-8") as f, open(probes, "w", encoding="utf-8") as g:
        g.writelines(f.readlines()[:2])
    a, b = os.path.join(d, "a", "set.jsonl"), os.path.join(d, "b", "set.jsonl")
    os.makedirs(os.path.dirname(a))
    os.makedirs(os.path.dirname(b))
    rc, _, err = run(build_cmd(a, "--keep-truncated", probes=probes, max_tokens="6"))
    check(rc == 0, "uninterrupted run A")
    journal = os.path.join(d, "b", "set.journal.jsonl")
    p = subprocess.Popen(build_cmd(b, "--keep-truncated", probes=probes, max_tokens="6"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 120:
        if os.path.exists(journal) and sum(1 for _ in open(journal, "rb")) >= 2:
            break
        if p.poll() is not None:
            break
        time.sleep(0.05)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.wait()
    n_before = sum(1 for _ in open(journal, "rb"))
    check(killed and 2 <= n_before < 5, "run B killed with SIGKILL with %d of 4 cells in its journal" % (n_before - 1))
    with open(journal, "ab") as f:  # what a kill in the middle of a write leaves
        f.write(b'{"id":"capital-au","sample":1,"seed":12,"answer":"torn')
    rc, _, err = run(build_cmd(b, "--keep-truncated", probes=probes, max_tokens="6"))
    check(rc == 0, "rerun B completes (%s)" % (err.strip().splitlines()[-1] if err.strip() else ""))
    ra, rb = open(a, "rb").read(), open(b, "rb").read()
    keys = [(r["id"], r["sample"]) for r in lines(b)]
    check(len(keys) == 4 and len(set(keys)) == 4, "B: exactly one record per (probe, sample)")
    check(ra == rb, "B's records == A's, byte for byte")
    cells = [(j["id"], j["sample"]) for j in lines(journal)[1:]]
    check(len(cells) == 4 and len(set(cells)) == 4, "B's journal: each cell once (%d lines)" % len(cells))


if not os.path.exists(GEMMA):
    print("skip: %s not found (run `make models`)" % GEMMA)
    sys.exit(0)
with tempfile.TemporaryDirectory() as d:
    t0 = time.time()
    test_build(d)
    t1 = time.time()
    test_kill(d)
    print("build part %.1f s, kill part %.1f s" % (t1 - t0, time.time() - t1))
print("%d failures" % failures)
sys.exit(1 if failures else 0)
