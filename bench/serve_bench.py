"""serve_bench.py: aggregate generation throughput of `hone serve` with 1 client vs N
concurrent clients (issue 9: 8 clients >= 2.5x one client's tokens/s, Gemma 3 270M).

One server (--parallel N) runs both phases, so both see the same machine load:
  1 client:  R requests one after the other;
  N clients: N threads, each R requests one after the other, all at once.
Each request: POST /v1/completions, a short distinct prompt (raw continuation: Gemma 3
270M is a base model), max_tokens T, temperature 0.8 with a fixed seed per request
(so both phases generate similar lengths; usage.completion_tokens is counted, an early
end token included). Aggregate tokens/s = sum of completion tokens / the phase's wall
time (prompt evaluation included, prompts are ~10 tokens). A warm-up request first.

  $(bash scripts/pyenv.sh) bench/serve_bench.py [--model PATH] [--clients 8] [--requests 2]
      [--tokens 128] [--threads 0]
Prints one line per phase and the ratio, and a JSON line at the end.
"""
import argparse
import json
import os
import re
import subprocess
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))

PROMPTS = ["The history of the city begins", "In the morning the farmer", "A good recipe for bread",
           "The mountain road was", "Scientists have discovered", "My grandmother used to say",
           "The old library contained", "On the first day of school", "The river flows", "At the market"]


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def phase(port, name, clients, requests, tokens):
    counts = [0] * clients
    errors = []

    def worker(c):
        try:
            for i in range(requests):
                k = c * requests + i
                r = post(port, {"model": name, "prompt": PROMPTS[k % len(PROMPTS)], "max_tokens": tokens,
                                "temperature": 0.8, "seed": 1000 + k})
                counts[c] += r["usage"]["completion_tokens"]
        except Exception as e:  # reported below
            errors.append(repr(e))

    t0 = time.time()
    ths = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    dt = time.time() - t0
    if errors:
        raise SystemExit(f"{clients} clients: {errors[0]}")
    tot = sum(counts)
    print(f"{clients:2d} client(s) x {requests} requests x max {tokens} tokens: {tot} tokens in {dt:.2f} s "
          f"= {tot / dt:.1f} tokens/s aggregate")
    return tot / dt, tot, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    args = [HONE, "serve", "--model", a.model, "--name", "m", "--port", "0", "--parallel", str(a.clients),
            "--ctx", "1024"]
    if a.threads:
        args += ["--threads", str(a.threads)]
    srv = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stderr.readline()
        m = re.search(r":(\d+), model", line)
        if not m:
            raise SystemExit(f"hone serve did not start: {line}")
        port = int(m.group(1))
        print(line.strip())
        post(port, {"model": "m", "prompt": "Hello", "max_tokens": 8})  # warm-up
        one, _, _ = phase(port, "m", 1, a.requests * 2, a.tokens)
        many, _, _ = phase(port, "m", a.clients, a.requests, a.tokens)
        print(f"ratio {a.clients} clients / 1 client: {many / one:.2f}x")
        print(json.dumps({"model": os.path.basename(a.model), "clients": a.clients, "tps_1": round(one, 2),
                          f"tps_{a.clients}": round(many, 2), "ratio": round(many / one, 3)}))
    finally:
        srv.terminate()
        srv.wait(timeout=30)


if __name__ == "__main__":
    main()
