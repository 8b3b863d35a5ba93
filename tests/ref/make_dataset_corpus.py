#!/usr/bin/env python3
"""make_dataset_corpus.py: writes tests/corpus/dataset/, small JSONL training files for the
dataset loader's robustness test (tests/unit/test_dataset_corrupt.c) and fuzz_dataset's seed
corpus, and the manifest EXPECTED.tsv.

Each file holds valid records and at most one defect. EXPECTED.tsv: NAME <TAB> EXPECT <TAB>
WHERE, EXPECT `ok` or a substring of the one-line error, WHERE "LINE:COLUMN" the error must
name (1-based; COLUMN in Unicode characters, as jansson counts), or "LINE" alone. The position
is written into each case by hand with the marker character U+2038 at the place the column
must point to: the opening quote of the offending key, the start of the offending value, or,
for JSON syntax errors, the character jansson names (the last one it read: the end of the
offending token, not its start; checked against jansson 2.14's output); the marker is removed before the
file is written. Every error case exists twice: as the only line (`-l1`), and after two good
records and a blank line (`-l4`), so line counting is tested as well.

`--check` verifies with Python's json module that the syntax-* cases are refused (except
NaN the lone surrogate escape, duplicate keys and "\\u0000", which Python accepts; jansson
refuses them) and every other case parses, so schema cases test meaning, not syntax.

Run: python3 tests/ref/make_dataset_corpus.py [--check] [--out DIR]
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "dataset")
MARK = "\u2038"

M = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
MS = ('{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, '
      '{"role": "assistant", "content": "Hello"}]}')
PC = '{"prompt": "2+2?", "completion": "4"}'
TX = '{"text": "The sky is blue."}'

OK = {
    "ok-messages": [M, MS, M],
    "ok-prompt-completion": [PC, '{"prompt": "a", "completion": "b", "system": "s"}'],
    "ok-text": [TX, '{"text": ""}'],
    "ok-blank-lines": ["", M, "   ", "\t", M, ""],
    "ok-crlf": [M + "\r", PC.replace(PC, M) + "\r"],
    "ok-extra-keys": ['{"id": "p1", "category": "x", "lang": "en", "messages": [{"role": "user", "content": "Q", '
                      '"name": "u"}, {"role": "assistant", "content": "A", "weight": 1}]}'],
    "ok-model-role": ['{"messages": [{"role": "user", "content": "Q"}, {"role": "model", "content": "A"}]}'],
    "ok-unicode": ['{"messages": [{"role": "user", "content": "日本語は？ \\u00e9 \\ud83d\\ude00"}, '
                   '{"role": "assistant", "content": "はい"}]}'],
    "ok-tools-warning": ['{"tools": [{"type": "function"}], "messages": [{"role": "user", "content": "Q"}, '
                         '{"role": "assistant", "content": "A"}]}'],
    "ok-multi-turn": ['{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, '
                      '{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}'],
    "ok-empty-file": [],
    "ok-messages-wins": ['{"text": 5, "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}'],
    "ok-pc-wins-over-text": ['{"text": null, "prompt": "p", "completion": "c"}'],
    "ok-whitespace-content": ['{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": ""}]}'],
    "ok-no-final-newline": [M, M + "<NONL>"],
}

# name: (line with MARK, expected substring, format of the good lines before it)
BAD = {
    # JSON syntax: jansson's message and column
    "syntax-trailing-comma": ('{"text": "a",' + MARK + '}', "string or '}' expected", TX),
    "syntax-truncated": ('{"text": "a' + MARK + '"', "'}' expected", TX),
    "syntax-single-quotes": ("{" + MARK + "'text': 'a'}", "string or '}' expected", TX),
    "syntax-bare-word": ("hell" + MARK + "o", "'[' or '{' expected", TX),
    "syntax-two-objects": ('{"text": "a"}' + MARK + '{"text": "b"}', "end of file expected", TX),
    "syntax-duplicate-key": ('{"text": "a", "text' + MARK + '": "b"}', "duplicate object key", TX),
    "syntax-nul-escape": ('{"text": "a\\u0000' + MARK + '"}', "\\u0000 is not allowed", TX),
    "syntax-nan": ('{"text": Na' + MARK + 'N}', "invalid token", TX),
    "syntax-unterminated-string": ('{"text": "日' + MARK + '本', "premature end of input", TX),
    "syntax-control-char": ('{"text": "' + MARK + 'a\tb"}', "control character", TX),
    "syntax-lone-surrogate": ('{"text": "\\ud83d' + MARK + '"}', "surrogate", TX),
    "syntax-bom": (MARK + "\ufeff" + '{"text": "a"}', "expected", TX),
    "syntax-unquoted-key": ('{tex' + MARK + 't: "a"}', "string or '}' expected", TX),
    "syntax-missing-colon": ('{"text" "a' + MARK + '"}', "':' expected", TX),
    "syntax-deep": ("[" * 2048 + MARK + "[" * 952 + "]" * 3000, "maximum parsing depth", TX),
    # top level
    "top-array": (MARK + '[' + M + ']', "expected a JSON object, found an array", M),
    "top-no-known-key": (MARK + '{"input": "a", "output": "b"}', 'expected a "messages", "prompt"+"completion" or "text" key', M),
    "top-empty-object": (MARK + '{}', 'expected a "messages"', M),
    "top-prompt-only": ('{' + MARK + '"prompt": "a", "answer": "b"}', '"prompt" without "completion"', PC),
    "top-completion-only": ('{"id": 1, ' + MARK + '"completion": "b"}', '"completion" without "prompt"', PC),
    # messages
    "messages-string": ('{' + MARK + '"messages": "hi"}', "messages: expected an array", M),
    "messages-object": ('{"id": "日本", ' + MARK + '"messages": {"role": "user"}}', "messages: expected an array", M),
    "messages-null": ('{' + MARK + '"messages": null}', "found null", M),
    "messages-empty": ('{' + MARK + '"messages": []}', "messages: empty", M),
    "msg-not-object": ('{"messages": [' + MARK + '"hi", {"role": "assistant", "content": "A"}]}', "messages[0]: expected a", M),
    "msg-number": ('{"messages": [{"role": "user", "content": "Q"}, ' + MARK + '42]}', "messages[1]: expected a", M),
    "msg-role-missing": ('{"messages": [' + MARK + '{"content": "Q"}, {"role": "assistant", "content": "A"}]}', 'messages[0]: missing "role"', M),
    "msg-role-number": ('{"messages": [{' + MARK + '"role": 1, "content": "Q"}, {"role": "assistant", "content": "A"}]}', "messages[0].role: expected a string, found a number", M),
    "msg-role-tool": ('{"messages": [{"role": "user", "content": "Q"}, {' + MARK + '"role": "tool", "content": "A"}]}', "messages[1].role: 'tool' is not one of system, user, assistant", M),
    "msg-role-upper": ('{"messages": [{' + MARK + '"role": "User", "content": "Q"}, {"role": "assistant", "content": "A"}]}', "'User' is not one of", M),
    "msg-role-empty": ('{"messages": [{' + MARK + '"role": "", "content": "Q"}, {"role": "assistant", "content": "A"}]}', "'' is not one of", M),
    "msg-content-missing": ('{"messages": [{"role": "user", "content": "Q"}, ' + MARK + '{"role": "assistant"}]}', 'messages[1]: missing "content"', M),
    "msg-content-null": ('{"messages": [{"role": "user", ' + MARK + '"content": null}, {"role": "assistant", "content": "A"}]}', "messages[0].content: expected a string, found null", M),
    "msg-content-array": ('{"messages": [{"role": "user", ' + MARK + '"content": [{"type": "text", "text": "Q"}]}, {"role": "assistant", "content": "A"}]}', "messages[0].content: expected a string, found an array", M),
    "msg-content-number": ('{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", ' + MARK + '"content": 4}]}', "messages[1].content: expected a string, found a number", M),
    "msg-content-unicode-col": ('{"messages": [{"role": "user", "content": "日本語で"}, {"role": "assistant", ' + MARK + '"content": false}]}', "found a boolean", M),
    "msg-content-nested-keys": ('{"messages": [{"role": "user", "content": "Q", "meta": {"content": 1}}, {"role": "assistant", ' + MARK + '"content": {}}]}', "messages[1].content: expected a string, found an object", M),
    # role order
    "order-system-second": ('{"messages": [{"role": "user", "content": "Q"}, {' + MARK + '"role": "system", "content": "S"}, {"role": "assistant", "content": "A"}]}', "messages[1].role: a system message may only come first", M),
    "order-assistant-first": ('{"messages": [{' + MARK + '"role": "assistant", "content": "A"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}', "must start with a user message", M),
    "order-system-then-assistant": ('{"messages": [{"role": "system", "content": "S"}, {' + MARK + '"role": "assistant", "content": "A"}]}', "messages[1].role: 'assistant' where the conversation must start with a user message", M),
    "order-user-user": ('{"messages": [{"role": "user", "content": "Q"}, {' + MARK + '"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A"}]}', "messages[1].role: 'user' after 'user': roles must alternate", M),
    "order-assistant-assistant": ('{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {' + MARK + '"role": "model", "content": "A2"}]}', "messages[2].role: 'assistant' after 'assistant'", M),
    "order-ends-with-user": ('{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, ' + MARK + '{"role": "user", "content": "Q2"}]}', "messages[2]: the conversation ends with a user message", M),
    "order-only-user": ('{"messages": [' + MARK + '{"role": "user", "content": "Q"}]}', "ends with a user message", M),
    "order-only-system": ('{"messages": [' + MARK + '{"role": "system", "content": "S"}]}', "ends with a system message", M),
    "order-two-systems": ('{"messages": [{"role": "system", "content": "S"}, {' + MARK + '"role": "system", "content": "S2"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}', "a system message may only come first", M),
    # prompt-completion and text
    "pc-prompt-number": ('{' + MARK + '"prompt": 1, "completion": "b"}', "prompt: expected a string, found a number", PC),
    "pc-completion-null": ('{"prompt": "a", ' + MARK + '"completion": null}', "completion: expected a string, found null", PC),
    "pc-completion-array": ('{"prompt": "a", ' + MARK + '"completion": ["b"]}', "completion: expected a string, found an array", PC),
    "pc-system-number": ('{"prompt": "a", "completion": "b", ' + MARK + '"system": 3}', "system: expected a string, found a number", PC),
    "text-number": ('{' + MARK + '"text": 12}', "text: expected a string, found a number", TX),
    "text-null": ('{"id": "x", ' + MARK + '"text": null}', "text: expected a string, found null", TX),
    "text-object": ('{' + MARK + '"text": {"a": 1}}', "text: expected a string, found an object", TX),
    # a record whose format differs from the file's
    "mix-text-in-messages": ('{' + MARK + '"text": "a"}', "a text record in a messages file (format set by line 1)", M),
    "mix-pc-in-messages": ('{' + MARK + '"prompt": "a", "completion": "b"}', "a prompt-completion record in a messages file", M),
    "mix-messages-in-text": ('{"id": 3, ' + MARK + '"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}', "a messages record in a text file", TX),
    "mix-text-in-pc": ('{' + MARK + '"text": "x"}', "a text record in a prompt-completion file", PC),
}


def place(line):
    """(line without the marker, 1-based column of the marker in code points)."""
    i = line.find(MARK)
    if i < 0:
        raise SystemExit("no marker in: " + line[:80])
    return line.replace(MARK, ""), i + 1


def cases():
    for name, lines in OK.items():
        yield name + ".jsonl", lines, "ok", "-"
    for name, (line, expect, good) in BAD.items():
        text, col = place(line)
        if name.startswith("mix-"):
            yield name + "-l2.jsonl", [good, text], expect, "2:%d" % col
            yield name + "-l4.jsonl", [good, good, "", text, good], expect.replace("line 1", "line 1"), "4:%d" % col
            continue
        first = [text] if name.startswith("syntax-") or name.startswith("top-") else [text, good]
        yield name + "-l1.jsonl", first, expect, "1:%d" % col
        yield name + "-l4.jsonl", [good, good, "", text, good], expect, "4:%d" % col


def encode(lines):
    out = []
    for ln in lines:
        if ln.endswith("<NONL>"):
            out.append(ln[: -len("<NONL>")])
            return "\n".join(out).encode("utf-8")
        out.append(ln)
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def check():
    bad = 0
    for name, lines, expect, where in cases():
        for k, ln in enumerate(lines):
            ln = ln.rstrip("\r").replace("<NONL>", "")
            if not ln.strip():
                continue
            is_def = where != "-" and k + 1 == int(where.split(":")[0])
            try:
                json.loads(ln)
                ok = True
            except (ValueError, RecursionError):
                ok = False
            py_lenient = any(s in name for s in ("nan", "lone-surrogate", "deep", "bom", "duplicate-key", "nul-escape"))
            if is_def and name.startswith("syntax-"):
                if ok and not py_lenient:
                    print("%s: Python accepts the syntax case" % name); bad += 1
            elif not ok and not py_lenient:
                print("%s: line %d is not JSON" % (name, k + 1)); bad += 1
    print("check: %d problems" % bad)
    return bad == 0


def main():
    out = OUT
    if "--out" in sys.argv:
        out = sys.argv[sys.argv.index("--out") + 1]
    if "--check" in sys.argv:
        sys.exit(0 if check() else 1)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".jsonl"):
            os.remove(os.path.join(out, f))
    rows = []
    for name, lines, expect, where in cases():
        with open(os.path.join(out, name), "wb") as f:
            f.write(encode(lines))
        rows.append("%s\t%s\t%s" % (name, expect, where))
    with open(os.path.join(out, "EXPECTED.tsv"), "w", encoding="utf-8") as f:
        f.write("# name\texpect (ok, or a substring of the one-line error)\tLINE:COLUMN the error names (- = none)\n")
        f.write("# written by tests/ref/make_dataset_corpus.py; do not edit by hand\n")
        f.write("\n".join(rows) + "\n")
    print("%d files in %s" % (len(rows), out))


if __name__ == "__main__":
    main()
