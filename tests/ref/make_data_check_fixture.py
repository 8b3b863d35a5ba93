#!/usr/bin/env python3
"""make_data_check_fixture.py: writes tests/fixtures/data_check/{train,valid}.jsonl, a small
chat training set with one planted defect of each kind `hone data check` reports, and
EXPECTED.tsv: FILE <TAB> LINE <TAB> KIND <TAB> SEVERITY <TAB> MODE for every diagnostic the
check must give, and nothing else. MODE is `base` (found without a model) or `model` (only
with --model gemma-3-270m --max-seq-length 64 --mask-prompt). The clean lines are distinct
enough that no pair of them is a near duplicate (the smaller of the prompts' and the answers'
5-character shingle Jaccard is < 0.8; this script computes it the same way as
src/data/check.c and asserts it).

Run: python3 tests/ref/make_data_check_fixture.py
"""
import json
import os
import re

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "data_check")


def conv(q, a, system=None):
    m = ([{"role": "system", "content": system}] if system is not None else [])
    m += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return {"messages": m}


def dump(o):
    return json.dumps(o, ensure_ascii=False)


LONG_A = " ".join("Item %d: keep the soil moist, prune in spring, and watch for aphids on new shoots." % i
                  for i in range(1, 7))
LONG_Q = " ".join("Clause %d of the lease says the tenant pays for water, heating and repairs." % i
                  for i in range(1, 8))

# (line text, [(kind, severity, mode), ...]) in file order
TRAIN = [
    (dump(conv("What is the capital of France?", "Paris is the capital of France.")), []),
    (dump(conv("Name three primary colours.", "Red, yellow and blue are the traditional primary colours.")), []),
    ('{"messages": [{"role": "user", "content": "Broken line"},]}', [("syntax", "error", "base")]),
    ('{"messages": [{"role": "user", "content": "How many legs has a spider?"}, {"role": "assistant", "content": 8}]}',
     [("schema", "error", "base")]),
    (dump(conv("Describe the smell of rain.", "   \n")), [("empty", "error", "base")]),
    (dump({"messages": [{"role": "user", "content": "Tell me a joke."}, {"role": "user", "content": "A short one."},
                        {"role": "assistant", "content": "Why did the chicken cross the road?"}]}),
     [("role-order", "error", "base")]),
    (dump(conv("Convert 10 km to miles.", "10 km is about 6.21 miles.")), []),
    (dump(conv("What is the capital of France?", "Paris is the capital of France.")), [("duplicate", "warning", "base")]),
    (dump(conv("name three primary colours", "Red, yellow, and blue are the traditional primary colours!")),
     [("near-duplicate", "warning", "base")]),
    (dump(conv("Who wrote Hamlet?", "William Shakespeare wrote Hamlet around 1600.", system=" ")),
     [("empty", "warning", "base")]),
    ('{"text": "A plain text record in a chat file."}', [("schema", "error", "base")]),
    (dump(conv("How do I care for a rose bush?", LONG_A)), [("too-long", "warning", "model")]),
    (dump(conv(LONG_Q + " Who pays for the boiler?", "The tenant does.")),
     [("too-long", "warning", "model"), ("no-supervised", "warning", "model")]),
    (dump({"messages": [{"role": "user", "content": "Is this the end?"}, {"role": "assistant", "content": "Almost."},
                        {"role": "user", "content": "Really?"}]}), [("role-order", "error", "base")]),
    (dump({"tools": [{"type": "function", "function": {"name": "get_time"}}],
           "messages": [{"role": "user", "content": "What time zone is Tokyo in?"},
                        {"role": "assistant", "content": "Tokyo uses Japan Standard Time, UTC+9."}]}),
     [("tools", "warning", "base")]),
    (dump(conv("Translate 'good morning' into German and explain when to use it.",
               "Guten Morgen. You use it from early morning until about noon; after that you say Guten Tag.")), []),
]

VALID = [
    (dump(conv("What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius at sea level.")), []),
    (dump(conv("Convert 10 km to miles.", "10 km is about 6.21 miles.")), [("leak", "error", "base")]),
    (dump(conv("Translate 'good morning' into German and explain when to use it.",
               "Guten Morgen. You use it from early morning until around noon; after that you say Guten Tag.")),
     [("near-leak", "warning", "base")]),  # one word of the answer changed: similarity 0.81
    (dump(conv("Who wrote Hamlet?", "Hamlet was written by Shakespeare.", system=" ")),
     [("empty", "warning", "base"), ("near-leak", "warning", "base")]),
    (dump(conv("Why is the sky blue?", "Sunlight scatters off air molecules; blue light scatters most.")), []),
    (dump(conv("", "An answer to nothing.")), [("empty", "error", "base")]),
]


def norm(s):
    out, space = [], False
    for ch in s:
        if ord(ch) < 0x80 and not ch.isalnum():
            space = bool(out)
            continue
        if space:
            out.append(" ")
        space = False
        out.append(ch.lower() if ord(ch) < 0x80 else ch)
    return "".join(out)


def record_norm(line):
    """(normalised prompt, normalised answer) as src/data/check.c builds them, or None."""
    try:
        o = json.loads(line)
        c = [m["content"] for m in o["messages"]]
        if not all(isinstance(x, str) for x in c):
            return None
        return norm(" ".join(c[:-1])), norm(c[-1])
    except Exception:
        return None


def similarity(a, b):
    """min(Jaccard of the prompts' shingles, Jaccard of the answers' shingles)."""
    def jac(x, y):
        sx, sy = shingles(x), shingles(y)
        return 1.0 if not sx and not sy else len(sx & sy) / len(sx | sy)
    return min(jac(a[0], b[0]), jac(a[1], b[1]))


def shingles(s):
    if len(s) < 5:
        return {s} if s else set()
    return {s[i:i + 5] for i in range(len(s) - 4)}


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    clean = []
    for fname, lines in (("train.jsonl", TRAIN), ("valid.jsonl", VALID)):
        with open(os.path.join(OUT, fname), "w", encoding="utf-8") as f:
            for i, (text, defects) in enumerate(lines):
                f.write(text + "\n")
                for kind, sev, mode in defects:
                    rows.append("%s\t%d\t%s\t%s\t%s" % (fname, i + 1, kind, sev, mode))
                if not any(k.startswith(("near", "dup", "leak")) for k, _, _ in defects):
                    n = record_norm(text)
                    if n:
                        clean.append((fname, i + 1, n))
    for a in range(len(clean)):
        for b in range(a + 1, len(clean)):
            j = similarity(clean[a][2], clean[b][2])
            assert j < 0.8, (clean[a][:2], clean[b][:2], j)
    near = similarity(record_norm(TRAIN[15][0]), record_norm(VALID[2][0]))
    print("valid.jsonl:3 vs train.jsonl:16 similarity %.4f (test_data_check.c expects %.2f)" % (near, near))
    with open(os.path.join(OUT, "EXPECTED.tsv"), "w", encoding="utf-8") as f:
        f.write("# file\tline\tkind\tseverity\tmode (base: always; model: with --model gemma-3-270m "
                "--max-seq-length 64 --mask-prompt)\n")
        f.write("# written by tests/ref/make_data_check_fixture.py; do not edit by hand\n")
        f.write("\n".join(rows) + "\n")
    print("%d expected diagnostics in %s" % (len(rows), OUT))


if __name__ == "__main__":
    main()
