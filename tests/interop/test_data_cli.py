"""test_data_cli.py: `hone data check | split | format` end to end, checked with Python's json.

- check on tests/fixtures/data_check/ (a planted defect of each kind): exit 1; the --json
  diagnostics are exactly the (file, line, kind, severity) rows of its EXPECTED.tsv ("base"
  rows; plus the "model" rows with --model Gemma 3 270M --max-seq-length 64 --mask-prompt when
  the model is present); the text output has one "FILE:LINE:COLUMN: severity: ..." line per
  diagnostic; a file with only warnings exits 0; a bad flag exits 2.
- split: two runs with one seed give byte-identical files; the union of train/valid/test is the
  input's lines (as a multiset, unchanged bytes); another seed gives another split; records of
  one probe (same prompt) share a split; --valid-count 20 gives 20; `data check` on the result
  reports no leak.
- format: messages -> prompt-completion -> messages gives json-equal records (Python json);
  messages -> text (gemma) -> messages -> text gives identical text lines.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
FIX = os.path.join(ROOT, "tests", "fixtures", "data_check")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def hone(*args, inp=None):
    p = subprocess.run([HONE] + list(args), capture_output=True, text=True, input=inp)
    return p.returncode, p.stdout, p.stderr


def expected(with_model):
    rows = collections.Counter()
    for line in open(os.path.join(FIX, "EXPECTED.tsv"), encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        f, ln, kind, sev, mode = line.rstrip("\n").split("\t")
        if mode == "base" or with_model:
            rows[(f, int(ln), kind, sev)] += 1
    return rows


def got(js):
    return collections.Counter((os.path.basename(d["file"]), d["line"], d["kind"], d["severity"])
                               for d in js["diagnostics"])


def test_check():
    rc, out, err = hone("data", "check", FIX, "--json")
    js = json.loads(out)
    check(rc == 1, "data check on the planted fixture exits 1 (rc %d)" % rc)
    g, w = got(js), expected(False)
    check(g == w, "diagnostics == EXPECTED.tsv base rows (%d); extra %s, missing %s" % (
        sum(w.values()), dict(g - w), dict(w - g)))
    check(js["errors"] == sum(1 for k in g.elements() if k[3] == "error"), "errors count matches")
    rc, out, _ = hone("data", "check", FIX)
    lines = [l for l in out.splitlines() if ": error: " in l or ": warning: " in l]
    check(len(lines) == sum(w.values()), "text output: one line per diagnostic (%d)" % len(lines))
    check(all(l.split(":")[1].isdigit() and l.split(":")[2].isdigit() for l in lines), "lines are FILE:LINE:COLUMN:")
    if os.path.exists(GEMMA):
        rc, out, err = hone("data", "check", FIX, "--json", "--model", GEMMA, "--max-seq-length", "64", "--mask-prompt")
        js = json.loads(out)
        g, w = got(js), expected(True)
        check(g == w, "with --model: diagnostics == base + model rows (%d); extra %s, missing %s" % (
            sum(w.values()), dict(g - w), dict(w - g)))
        t = js["files"][0]["tokens"]
        check(t["min"] <= t["median"] <= t["p95"] <= t["max"] and t["too_long"] == 2 and t["no_supervised"] == 1,
              "token stats ordered, 2 too long, 1 without supervised token: %s" % t)
    else:
        print("skip --model: %s not found" % GEMMA)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "w.jsonl")
        rec = json.dumps({"text": "same text twice"})
        open(p, "w").write(rec + "\n" + rec + "\n")
        rc, out, _ = hone("data", "check", p)
        check(rc == 0 and "warning: duplicate of line 1" in out, "warnings only: exit 0 (rc %d)" % rc)
    rc, _, err = hone("data", "check", FIX, "--bogus")
    check(rc == 2 and len(err.strip().splitlines()) == 1, "bad flag: exit 2, one line")


def probes_file(path):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(60):
            for s in range(2):
                f.write(json.dumps({"id": "p%d" % i, "lang": ["en", "fr", "de"][i % 3], "messages": [
                    {"role": "user", "content": "Question number %d, please answer carefully?" % i},
                    {"role": "assistant", "content": "Sample %d of answer %d: %s" % (s, i, "yes" if s else "no")}]},
                    ensure_ascii=False) + "\n")


def read(d, name):
    p = os.path.join(d, name)
    return open(p, "rb").read() if os.path.exists(p) else b""


def test_split():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "all.jsonl")
        probes_file(src)
        outs = []
        for k, seed in enumerate(["5", "5", "6"]):
            o = os.path.join(d, "o%d" % k)
            rc, out, err = hone("data", "split", src, "--out", o, "--valid-count", "20", "--test", "0.1",
                                "--seed", seed, "--stratify", "lang")
            check(rc == 0, "split rc 0 (%s%s)" % (out.strip(), err.strip()))
            outs.append([read(o, n) for n in ("train.jsonl", "valid.jsonl", "test.jsonl")])
        check(outs[0] == outs[1], "same seed: byte-identical files")
        check(outs[0] != outs[2], "another seed: another split")
        lines = collections.Counter(open(src, "rb").read().splitlines())
        union = collections.Counter(b"".join(outs[0]).splitlines())
        check(lines == union, "train + valid + test == the input lines")
        valid = outs[0][1].splitlines()
        check(len(valid) == 20, "--valid-count 20: %d" % len(valid))
        test = outs[0][2].splitlines()
        check(len(test) == 12, "--test 0.1 of 120: %d" % len(test))
        where = {}
        for s, blob in enumerate(outs[0]):
            for l in blob.splitlines():
                where.setdefault(json.loads(l)["id"], set()).add(s)
        check(all(len(v) == 1 for v in where.values()), "both samples of each probe in one split")
        langs = collections.Counter(json.loads(l)["lang"] for l in valid)
        check(all(6 <= v <= 8 for v in langs.values()) and len(langs) == 3, "stratified by lang: %s" % dict(langs))
        rc, out, _ = hone("data", "check", os.path.join(d, "o0"), "--json")
        js = json.loads(out)
        check(rc == 0 and not any(x["kind"] in ("leak", "near-leak") for x in js["diagnostics"]),
              "data check on the split: exit 0, no leak")


def test_format():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "m.jsonl")
        recs = [{"id": "a", "messages": [{"role": "system", "content": "Sé amable."},
                                         {"role": "user", "content": "Hola\n¿qué tal?"},
                                         {"role": "assistant", "content": "Bien, \"gracias\"."}], "lang": "es"},
                {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "n": 1.5}]
        open(src, "w", encoding="utf-8").write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
        pc, back = os.path.join(d, "pc.jsonl"), os.path.join(d, "back.jsonl")
        rc1 = hone("data", "format", src, "--to", "prompt-completion", "--out", pc)[0]
        rc2 = hone("data", "format", pc, "--to", "messages", "--out", back)[0]
        got_back = [json.loads(l) for l in open(back, encoding="utf-8")]
        check(rc1 == 0 and rc2 == 0 and got_back == recs, "messages -> prompt-completion -> messages: json-equal")
        pcs = [json.loads(l) for l in open(pc, encoding="utf-8")]
        check(pcs[0] == {"id": "a", "system": "Sé amable.", "prompt": "Hola\n¿qué tal?",
                         "completion": "Bien, \"gracias\".", "lang": "es"}, "prompt-completion record: %s" % pcs[0])
        t1 = hone("data", "format", src, "--to", "text", "--template", "chatml-plain")[1]
        open(os.path.join(d, "t.jsonl"), "w", encoding="utf-8").write(t1)
        m2 = hone("data", "format", os.path.join(d, "t.jsonl"), "--to", "messages", "--template", "chatml-plain")[1]
        check([json.loads(l) for l in m2.splitlines()] == recs, "messages -> text (chatml-plain) -> messages: json-equal")
        first = json.loads(t1.splitlines()[0])["text"]
        want = ("<|im_start|>system\nSé amable.<|im_end|>\n<|im_start|>user\nHola\n¿qué tal?<|im_end|>\n"
                "<|im_start|>assistant\nBien, \"gracias\".<|im_end|>\n")
        check(first == want, "chatml-plain text as written out by hand")
        rc, _, err = hone("data", "format", src, "--to", "yaml")
        check(rc == 2, "unknown --to: exit 2")


test_check()
test_split()
test_format()
print("%d failures" % failures)
sys.exit(1 if failures else 0)
