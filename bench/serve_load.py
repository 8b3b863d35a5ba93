"""serve_load.py: a bounded load test of `hone serve` (issue 9): several minutes of
mixed valid and malformed requests from concurrent clients, on loopback only.

Pass criteria (exit 1 otherwise):
- the server never crashes (it is alive at the end and exits 0 on SIGTERM);
- every valid request is answered 200 (and a streamed one ends with its final chunk);
- every malformed request is answered 4xx with a JSON error body ({"error": ...});
  raw garbage that is not HTTP may instead be closed by the server or answered 505
  (libmicrohttpd's answer to an unknown HTTP version);
- RSS is printed at the start (after a warm-up), every 30 s, and at the end; the end
  must stay within 1.5x + 64 MiB of the start (a leak of a few kB per request over
  thousands of requests shows up as steady growth in the samples).
Clients that drop a stream on purpose (after its first chunk) count as valid when
the connection opened 200.

  $(bash scripts/pyenv.sh) bench/serve_load.py [--model PATH] [--seconds 180] [--clients 6]
"""
import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
NAME = "m"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


MSG = [{"role": "user", "content": "Say hello."}]
# (kind, method, path, body, expected) -- body: dict (JSON), bytes (raw), or None
VALID = [
    ("openai chat", "POST", "/v1/chat/completions", {"model": NAME, "messages": MSG, "max_tokens": 6}, 200),
    ("openai chat stream", "POST", "/v1/chat/completions",
     {"model": NAME, "messages": MSG, "max_tokens": 6, "stream": True}, 200),
    ("openai completion", "POST", "/v1/completions", {"model": NAME, "prompt": "Once upon a time", "max_tokens": 6}, 200),
    ("ollama chat stream", "POST", "/api/chat", {"model": NAME, "messages": MSG, "options": {"num_predict": 6}}, 200),
    ("ollama generate", "POST", "/api/generate",
     {"model": NAME, "prompt": "Hi", "stream": False, "options": {"num_predict": 6, "temperature": 0}}, 200),
    ("models", "GET", "/v1/models", None, 200),
    ("tags", "GET", "/api/tags", None, 200),
    ("show", "POST", "/api/show", {"model": NAME}, 200),
    ("health", "GET", "/health", None, 200),
]
LONG = "word " * 3000  # over --ctx 512
MALFORMED = [
    ("bad json", "POST", "/v1/chat/completions", b"{\"model\": ", 400),
    ("not json", "POST", "/api/chat", b"hello there", 400),
    ("json array", "POST", "/api/generate", b"[1, 2, 3]", 400),
    ("invalid utf-8", "POST", "/api/generate", b"{\"model\": \"m\", \"prompt\": \"\xff\xfe\"}", 400),
    ("deep nesting", "POST", "/v1/completions", b"[" * 5000 + b"]" * 5000, 400),
    ("unknown model", "POST", "/v1/chat/completions", {"model": "nope", "messages": MSG}, 404),
    ("unknown adapter", "POST", "/api/chat", {"model": NAME + "+nope", "messages": MSG}, 404),
    ("missing model", "POST", "/api/generate", {"prompt": "x"}, 400),
    ("messages not array", "POST", "/v1/chat/completions", {"model": NAME, "messages": "hi"}, 400),
    ("empty messages", "POST", "/api/chat", {"model": NAME, "messages": []}, 400),
    ("bad role", "POST", "/v1/chat/completions", {"model": NAME, "messages": [{"role": "wizard", "content": "x"}]}, 400),
    ("content number", "POST", "/api/chat", {"model": NAME, "messages": [{"role": "user", "content": 5}]}, 400),
    ("temperature string", "POST", "/v1/completions", {"model": NAME, "prompt": "x", "temperature": "hot"}, 400),
    ("top_p 0", "POST", "/api/generate", {"model": NAME, "prompt": "x", "options": {"top_p": 0}}, 400),
    ("num_predict -7", "POST", "/api/generate", {"model": NAME, "prompt": "x", "options": {"num_predict": -7}}, 400),
    ("options not object", "POST", "/api/chat", {"model": NAME, "messages": MSG, "options": [1]}, 400),
    ("max_tokens 0", "POST", "/v1/chat/completions", {"model": NAME, "messages": MSG, "max_tokens": 0}, 400),
    ("stop not strings", "POST", "/v1/completions", {"model": NAME, "prompt": "x", "stop": [1, 2]}, 400),
    ("n 3", "POST", "/v1/chat/completions", {"model": NAME, "messages": MSG, "n": 3}, 400),
    ("prompt too long", "POST", "/v1/completions", {"model": NAME, "prompt": LONG, "max_tokens": 2}, 400),
    ("body too large (Content-Length)", "POST", "/api/generate", "HEADERS-ONLY", 413),
    ("body too large (chunked)", "POST", "/api/generate", "CHUNKED", 413),
    ("wrong method", "GET", "/api/generate", None, 405),
    ("wrong method 2", "DELETE", "/v1/models", None, 405),
    ("unknown path", "GET", "/v2/everything", None, 404),
    ("show unknown", "POST", "/api/show", {"model": "nope"}, 404),
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = {}
        self.failures = []

    def add(self, kind, ok, detail=""):
        with self.lock:
            c = self.count.setdefault(kind, [0, 0])
            c[0 if ok else 1] += 1
            if not ok and len(self.failures) < 50:
                self.failures.append(f"{kind}: {detail}")


def big_body(port, chunked):
    """A body over --max-body: announced by Content-Length (answered before it is sent),
    or chunked (read, discarded, then answered)."""
    if not chunked:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2097152\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d+)", head)
        if b"chunked" in head.lower():  # de-chunk the small answer
            body = b"".join(re.findall(rb"\r\n([^\r]*)\r\n", b"\r\n" + body))
        return (int(m.group(1)) if m else 0), body.decode(errors="replace")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/api/generate", body=iter([b"{\"prompt\": \"" + b"a" * 65536] * 32 + [b"\"}"]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    r = conn.getresponse()
    text = r.read().decode(errors="replace")
    conn.close()
    return r.status, text


def do_request(port, method, path, body, drop_stream=False):
    if body in ("HEADERS-ONLY", "CHUNKED"):
        return big_body(port, body == "CHUNKED")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    if drop_stream:
        first = r.readline()
        conn.sock.close()
        conn.close()
        return r.status, first.decode(errors="replace")
    text = r.read().decode(errors="replace")
    conn.close()
    return r.status, text


def raw_garbage(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(random.choice([b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /api/chat HTTP/1.1\r\n"
                             b"Content-Length: 99999999999999999999\r\n\r\n", b"\r\n\r\n\r\n"]))
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = b""
    s.close()
    m = re.match(rb"HTTP/1\.[01] (\d+)", data)
    return int(m.group(1)) if m else 0


def worker(port, stop_at, stats, seed):
    rnd = random.Random(seed)
    while time.time() < stop_at:
        x = rnd.random()
        try:
            if x < 0.45:
                kind, method, path, body, want = rnd.choice(VALID)
                drop = "stream" in kind and rnd.random() < 0.3
                st, text = do_request(port, method, path, body, drop_stream=drop)
                ok = st == want
                if ok and not drop and "stream" in kind:
                    ok = ("[DONE]" in text) if path.startswith("/v1") else ('"done":true' in text)
                stats.add("valid" + (" (dropped stream)" if drop else ""), ok, f"{kind}: {st} {text[:200]}")
            elif x < 0.95:
                kind, method, path, body, want = rnd.choice(MALFORMED)
                st, text = do_request(port, method, path, body)
                try:
                    has_err = "error" in json.loads(text)
                except ValueError:
                    has_err = False
                stats.add("malformed", 400 <= st < 500 and st == want and has_err, f"{kind}: {st} (want {want}) {text[:200]}")
            else:
                st = raw_garbage(port)
                # not HTTP at all: 4xx, 505 (an HTTP version it does not speak) or a closed connection
                stats.add("raw garbage", st == 0 or 400 <= st < 500 or st == 505, f"status {st}")
        except (ConnectionError, http.client.HTTPException, socket.timeout, OSError) as e:
            stats.add("connection error", False, repr(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--clients", type=int, default=6)
    a = ap.parse_args()
    srv = subprocess.Popen([HONE, "serve", "--model", a.model, "--name", NAME, "--port", "0", "--parallel", "4",
                            "--ctx", "512", "--max-conns", "32"], stderr=subprocess.PIPE, text=True)
    line = srv.stderr.readline()
    m = re.search(r":(\d+), model", line)
    if not m:
        raise SystemExit(f"hone serve did not start: {line}")
    port = int(m.group(1))
    print(line.strip())
    for kind, method, path, body, want in VALID:  # warm-up: every valid kind once
        do_request(port, method, path, body)
    rss0 = rss_kib(srv.pid)
    print(f"RSS at start (after warm-up): {rss0 / 1024:.1f} MiB")
    stats = Stats()
    stop_at = time.time() + a.seconds
    ths = [threading.Thread(target=worker, args=(port, stop_at, stats, 1234 + i)) for i in range(a.clients)]
    for t in ths:
        t.start()
    t0 = time.time()
    samples = [rss0]
    while any(t.is_alive() for t in ths):
        time.sleep(1)
        if srv.poll() is not None:
            break
        if time.time() - t0 >= 30:
            t0 = time.time()
            samples.append(rss_kib(srv.pid))
            print(f"  RSS {samples[-1] / 1024:.1f} MiB, {sum(sum(c) for c in stats.count.values())} requests so far")
    for t in ths:
        t.join()
    alive = srv.poll() is None
    rss1 = rss_kib(srv.pid) if alive else -1
    srv.terminate()
    rc = srv.wait(timeout=60)
    total = sum(sum(c) for c in stats.count.values())
    print(f"{total} requests in {a.seconds} s from {a.clients} clients")
    for k, (ok, bad) in sorted(stats.count.items()):
        print(f"  {k:28s} {ok:6d} as expected, {bad:4d} not")
    for f in stats.failures[:20]:
        print("  FAIL", f)
    print(f"RSS start {rss0 / 1024:.1f} MiB, end {rss1 / 1024:.1f} MiB (samples: "
          f"{', '.join(f'{s / 1024:.0f}' for s in samples)})")
    ok = alive and rc == 0 and not stats.failures and 0 < rss1 <= 1.5 * rss0 + 64 * 1024
    print(f"server alive at the end: {alive}, exit status on SIGTERM: {rc}")
    print("PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
