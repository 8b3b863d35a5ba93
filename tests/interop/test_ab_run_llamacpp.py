"""test_ab_run_llamacpp.py: hone's OpenAI backend against a real server, llama-cpp-python's
(`python -m llama_cpp.server`, llama.cpp inside) on loopback, serving Gemma 3 270M; runs only
with HONE_TEST_FULL=1 (it starts a second engine: ~20 s), and skips with a message when the
model, ~/.cache/hone/venv-llama or its `server` extra is absent.

The same spec has the model twice: in-process (hone's engine) and through the server, both
greedy (temperature 0); the server formats with its "gemma" chat format (the GGUF is the base
model, with no template of its own; that format drops system messages, so the conditions are
none and prefix, the kernel in the user turn). Compared per cell: the server's
usage.prompt_tokens against hone's own count of the prompt it renders with Gemma's template
(exactly equal: same text, BOS added by llama.cpp where hone's text starts with "<bos>"),
every cell answered once with finish reasons stop/length matching the answer token counts; non-streaming and streaming (SSE) must give the same answers. The
agreement of the greedy answers between the two engines is printed, not asserted: the
server applies its default repeat_penalty 1.1 (the OpenAI API has no field for it), and
near-tie logits may round differently (RESULTS.md).
"""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HONE = os.path.join(ROOT, "build", "hone")
MODEL = os.path.join(os.environ.get("HONE_MODELS", os.path.join(ROOT, "models")), "gemma-3-270m-q4_k_m.gguf")
VPY = os.path.expanduser("~/.cache/hone/venv-llama/bin/python")
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    if os.environ.get("HONE_TEST_FULL") != "1":
        print("SKIP: set HONE_TEST_FULL=1 to run hone against llama-cpp-python's server")
        return 0
    if not os.path.exists(MODEL):
        print(f"SKIP: {MODEL} not found")
        return 0
    if not os.path.exists(VPY) or subprocess.run([VPY, "-c", "import llama_cpp.server.app, uvicorn"],
                                                 capture_output=True).returncode:
        print(f"SKIP: {VPY} with llama-cpp-python[server] not found "
              "(~/.cache/hone/venv-llama/bin/pip install 'llama-cpp-python[server]')")
        return 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([VPY, "-m", "llama_cpp.server", "--model", MODEL, "--model_alias", "gemma",
                            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--chat_format", "gemma", "--verbose", "False"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while time.time() - t0 < 120:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        else:
            check(False, "llama-cpp-python server did not come up in 120 s")
            return 1
        tmp = tempfile.mkdtemp(prefix="hone-ablcpp-")
        probes = [{"id": "p-en", "prompt": "Name three colours.", "category": "c", "lang": "en", "signal": "s"},
                  {"id": "p-ru", "prompt": "Назови три цвета.", "category": "c", "lang": "ru", "signal": "s"},
                  {"id": "p-zh", "prompt": "说出三种颜色。", "category": "c", "lang": "zh", "signal": "s"}]
        with open(os.path.join(tmp, "probes.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in probes)
        with open(os.path.join(tmp, "k.txt"), "w") as f:
            f.write("You answer briefly and honestly.\n")
        spec = os.path.join(tmp, "lcpp.yaml")
        with open(spec, "w") as f:
            f.write(f"""name: lcpp
models:
  - id: local
    path: {MODEL}
    num_ctx: 1024
  - id: server
    openai: {{name: gemma, url: '{url}/v1'}}
kernels: {{K: k.txt}}
conditions:
  - {{id: none, mode: none}}
  - {{id: pre, mode: prefix, kernel: K}}
baseline: none
probes: probes.jsonl
samples: 1
sampling: {{temperature: 0, top_p: 1, max_tokens: 24, seed: 5}}
""")
        res = {}
        for mode in ("plain", "stream"):
            db = os.path.join(tmp, mode + ".db")
            args = [HONE, "ab", "run", spec, "--db", db, "--no-judge", "--timeout", "120"]
            if mode == "stream":
                args += ["--stream", "--only", "model=server"]
            t0 = time.time()
            p = subprocess.run(args, capture_output=True, text=True, timeout=600)
            print(f"     {mode}: {p.stderr.strip().splitlines()[-1] if p.stderr else ''} ({time.time() - t0:.1f} s)")
            check(p.returncode == 0, f"{mode}: hone ab run exit 0")
            con = sqlite3.connect(db)
            res[mode] = {(m, c, pr): (a, pt, at, fr, e) for (m, c, pr, a, pt, at, fr, e) in con.execute(
                "SELECT model, condition, probe, answer, prompt_tokens, answer_tokens, finish_reason, error FROM answers")}
            con.close()
        plain = res["plain"]
        n_srv = [k for k in plain if k[0] == "server"]
        check(len(plain) == 12 and len(n_srv) == 6, f"{len(plain)} cells answered (6 local, 6 server)")
        agree = 0
        for k in n_srv:
            a, pt, at, fr, e = plain[k]
            la, lpt = plain[("local",) + k[1:]][:2]
            check(e is None and a is not None, f"server {k[1]}/{k[2]}: answered ({a!r:.60}; hone: {la!r:.60})")
            check(pt == lpt, f"server {k[1]}/{k[2]}: usage.prompt_tokens {pt} == hone's {lpt}")
            check((fr == "length") == (at >= 24), f"server {k[1]}/{k[2]}: finish {fr} with {at} tokens")
            check(res["stream"].get(k, (None,))[0] == a, f"server {k[1]}/{k[2]}: streaming gives the same answer")
            agree += la == a
        print(f"     greedy answers identical between hone's engine and llama.cpp: {agree}/{len(n_srv)}")
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
    print(f"{len(FAILS)} failed" if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
