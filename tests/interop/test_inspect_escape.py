"""test_inspect_escape.py: `hone inspect` text output cannot drive the terminal.

A GGUF written by gguf-py's GGUFWriter and a safetensors file written by the
PyPI safetensors package carry keys, string values and tensor names with
control bytes (ESC sequences, BEL, a C1 CSI U+009B, DEL). The text output of
`hone inspect --tensors` must contain no byte below 0x20 but '\n', no 0x7f and
no C1 control, and must show each of them escaped (\\x1b ...); ordinary UTF-8
(é, ✓) passes through unchanged. The --json output must still carry the exact
names (jansson escapes them as JSON). Exact comparisons.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFWriter
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.path.join(ROOT, "build", "hone")
failures = []

KEY = "general.x\x1b[31mred\x07é✓"
VAL = "v\x1b]0;title\x07\u009b2J\x7f"
TNAME = "w\x1b[2J"


def check_text(what, out, needles):
    for i, ch in enumerate(out):
        c = ord(ch)
        if (c < 0x20 and ch != "\n") or c == 0x7f or 0x80 <= c <= 0x9f:
            failures.append(f"{what}: control character U+{c:04X} at {i}: {out[max(0, i - 30):i + 10]!r}")
            break
    for n in needles:
        if n not in out:
            failures.append(f"{what}: {n!r} not in the output")
    print(f"{what}: {len(out)} characters checked for control bytes, {len(needles)} escaped forms looked for")


with tempfile.TemporaryDirectory(prefix="hone-escape-") as tmp:
    g = os.path.join(tmp, "ctl.gguf")
    w = GGUFWriter(g, "llama")
    w.add_string(KEY, VAL)
    w.add_tensor(TNAME, np.zeros(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    s = os.path.join(tmp, "ctl.safetensors")
    save_file({TNAME: np.zeros(4, dtype=np.float32)}, s, metadata={KEY: VAL})
    for path in (g, s):
        r = subprocess.run([HONE, "inspect", "--tensors", path], capture_output=True)
        what = os.path.basename(path)
        if r.returncode != 0:
            failures.append(f"{what}: rc {r.returncode}: {r.stderr!r}")
            continue
        out = r.stdout.decode("utf-8")  # must still be valid UTF-8
        check_text(what, out, ["general.x\\x1b[31mred\\x07é✓", "\\x1b]0;title\\x07\\xc2\\x9b2J\\x7f",
                               "w\\x1b[2J"])
        r = subprocess.run([HONE, "inspect", "--json", "--tensors", path], capture_output=True)
        doc = json.loads(r.stdout)
        strings = set()

        def walk(v):
            if isinstance(v, str):
                strings.add(v)
            elif isinstance(v, dict):
                for k, x in v.items():
                    strings.add(k)
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(doc)
        for n in (KEY, TNAME):
            if n not in strings:
                failures.append(f"{what} --json: exact name {n!r} missing")

for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
