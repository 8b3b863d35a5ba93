"""test_ab_run_resume.py: `hone ab run` on the local Gemma 3 270M (in-process backend), killed
with SIGKILL in the middle, then run again: exactly one answer per cell (issue 8, item 1's
resume part). Compared: the cell keys in the store against the spec's cells (2 conditions x
2 probes x 2 samples = 8), rows written before the kill unchanged by the rerun (same id,
answer, created), and reproducibility: a cell deleted and answered again gives the same
answer byte for byte (same seed, same sampler, temperature 0.7), whatever the concurrency. Also what is recorded for a
local answer: the exact prompt text (Gemma's template, the kernel folded into the user turn),
prompt tokens, the file's sha256 as identity. The rerun uses --concurrency 2 (two sessions on
one model); a cell it answered, answered again by one session, must not change. Skips (exit 0 with a message) without the model.
"""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HONE = os.path.join(ROOT, "build", "hone")
MODEL = os.path.join(os.environ.get("HONE_MODELS", os.path.join(ROOT, "models")), "gemma-3-270m-q4_k_m.gguf")
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def keys(db):
    con = sqlite3.connect(db)
    r = {(m, c, p, s): (i, a, cr) for (i, m, c, p, s, a, cr) in
         con.execute("SELECT id, model, condition, probe, sample, answer, created FROM answers")}
    n = con.execute("SELECT count(*) FROM answers").fetchone()[0]
    con.close()
    return r, n


def main():
    if not os.path.exists(MODEL):
        print(f"SKIP: {MODEL} not found (make models, or HONE_MODELS=...)")
        return 0
    tmp = tempfile.mkdtemp(prefix="hone-abresume-")
    probes = [{"id": "p-en", "prompt": "Name a colour.", "category": "c", "lang": "en", "signal": "s"},
              {"id": "p-ru", "prompt": "Назови цвет.", "category": "c", "lang": "ru", "signal": "s"}]
    with open(os.path.join(tmp, "probes.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in probes)
    with open(os.path.join(tmp, "k.txt"), "w") as f:
        f.write("Answer in one word.\n")
    spec = os.path.join(tmp, "resume.yaml")
    with open(spec, "w") as f:
        f.write(f"""name: resume
models:
  - id: gemma
    path: {MODEL}
    num_ctx: 256
kernels: {{K: k.txt}}
conditions:
  - {{id: none, mode: none}}
  - {{id: sys, mode: system, kernel: K}}
baseline: none
probes: probes.jsonl
samples: 2
sampling: {{temperature: 0.7, top_p: 0.95, max_tokens: 8, seed: 3}}
""")
    db = os.path.join(tmp, "resume.db")
    args = [HONE, "ab", "run", spec, "--db", db, "--no-judge"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    n = 0
    while time.time() - t0 < 120 and p.poll() is None:
        time.sleep(0.05)
        if os.path.exists(db):
            try:
                n = keys(db)[1]
            except sqlite3.Error:
                continue
            if n >= 3:
                break
    p.send_signal(signal.SIGKILL)
    p.wait()
    before, n1 = keys(db)
    check(3 <= n1 < 8, f"killed mid-run with {n1} of 8 answers stored")
    r = subprocess.run(args + ["--concurrency", "2"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"rerun (--concurrency 2: two sessions) exit 0: {r.stderr.strip()[-300:]}")
    after, n2 = keys(db)
    want = {("gemma", c, pr["id"], s) for c in ("none", "sys") for pr in probes for s in (0, 1)}
    check(n2 == 8 and set(after) == want, f"after the rerun: {n2} rows, one per cell of the 8")
    check(all(after[k] == v for k, v in before.items()), "rows stored before the kill are unchanged")
    check(f"{8 - n1} to do" in r.stderr, f"the rerun did only the {8 - n1} missing cells")

    con = sqlite3.connect(db)
    row = con.execute("SELECT prompt_text, prompt_tokens, model_identity, messages, answer, finish_reason, "
                      "answer_tokens FROM answers WHERE condition='sys' AND probe='p-en' AND sample=0").fetchone()
    con.close()
    pt, ptok, ident, msgs, ans, fin, atok = row
    check(pt == "<bos><start_of_turn>user\nAnswer in one word.\n\nName a colour.<end_of_turn>\n<start_of_turn>model\n",
          f"prompt text is Gemma's template with the kernel folded in: {pt!r}")
    check(json.loads(msgs) == [{"role": "system", "content": "Answer in one word."},
                               {"role": "user", "content": "Name a colour."}], "messages as sent")
    check(ptok is not None and 15 <= ptok <= 40, f"prompt tokens {ptok}")
    check(fin in ("stop", "length") and (fin == "stop") == (atok < 8), f"finish {fin} with {atok} tokens")
    h = hashlib.sha256()
    with open(MODEL, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    check(ident == "sha256:" + h.hexdigest(), f"identity is the file's sha256 ({ident[:20]}...)")

    # reproducibility: forget a cell the two-session rerun answered, answer it again alone
    k = sorted(set(after) - set(before))[-1]
    con = sqlite3.connect(db)
    con.execute("DELETE FROM answers WHERE model=? AND condition=? AND probe=? AND sample=?", k)
    con.commit()
    con.close()
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    again, n3 = keys(db)
    check(n3 == 8 and again[k][1] == after[k][1],
          f"cell {k[1:]} answered again (one session vs two) gives the same answer: {again[k][1]!r}")
    print(f"{len(FAILS)} failed" if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
