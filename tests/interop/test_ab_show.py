#!/usr/bin/env python3
"""`hone ab show` against an independent reading of the example specs.

For every example spec in examples/ab, every condition and every probe, the messages that
`hone ab show` prints must equal the ones built here from the spec read with PyYAML and
the signing layout documented in include/hone/sign.h (SEP = "\\n\\n---\\n\\n"; kernels and
reminder right-stripped of spaces, tabs, CR, LF; the prompt right-stripped only where a SEP
follows it). Also checks the error for an unknown probe. Exit status non-zero on mismatch.
"""
import glob, json, os, subprocess, sys
import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
HONE = os.path.join(ROOT, "build", "hone")
SEP = "\n\n---\n\n"
WS = " \t\r\n"

def sign(mode, kernel, kernel_b, reminder, prompt):
    if mode == "none":
        return None, prompt
    k = kernel.rstrip(WS)
    if mode == "system":
        return k, prompt
    if mode == "prefix":
        return None, k + SEP + prompt
    if mode == "postfix":
        return None, prompt.rstrip(WS) + SEP + k
    if mode == "sandwich":
        kb = (kernel_b if kernel_b is not None else kernel).rstrip(WS)
        u = k + SEP + prompt.rstrip(WS) + SEP + kb
        if reminder:
            u += "\n\n" + reminder.rstrip(WS)
        return None, u
    raise ValueError(mode)

def main():
    os.chdir(ROOT)
    n = bad = 0
    for spec_path in sorted(glob.glob("examples/ab/*.yaml")):
        spec = yaml.safe_load(open(spec_path, encoding="utf-8"))
        d = os.path.dirname(spec_path)
        kernels = {k: open(os.path.join(d, v), encoding="utf-8").read() for k, v in (spec.get("kernels") or {}).items()}
        files = spec["probes"] if isinstance(spec["probes"], list) else [spec["probes"]]
        probes = [json.loads(l) for f in files for l in open(os.path.join(d, f), encoding="utf-8") if l.strip()]
        for c in spec["conditions"]:
            for p in probes:
                sys_msg, user = sign(c["mode"], kernels.get(c.get("kernel")), kernels.get(c.get("kernel_b")),
                                     c.get("reminder"), p["prompt"])
                want = ([{"role": "system", "content": sys_msg}] if sys_msg is not None else []) + \
                       [{"role": "user", "content": user}]
                r = subprocess.run([HONE, "ab", "show", spec_path, "--probe", p["id"], "--condition", c["id"]],
                                   capture_output=True, text=True)
                n += 1
                if r.returncode != 0 or json.loads(r.stdout) != want:
                    bad += 1
                    print(f"FAIL {spec_path} {c['id']} {p['id']}: rc {r.returncode} {r.stderr.strip()}")
    r = subprocess.run([HONE, "ab", "show", "examples/ab/phase1-signed.yaml", "--probe", "nope", "--condition", "signed"],
                       capture_output=True, text=True)
    if r.returncode != 1 or "no probe with id 'nope'" not in r.stderr:
        bad += 1
        print(f"FAIL unknown probe: rc {r.returncode}, stderr {r.stderr!r}")
    print(f"ab show: {n - bad}/{n} cells print the messages built from the spec by PyYAML + sign.h's layout")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
