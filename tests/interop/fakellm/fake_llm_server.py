"""fake_llm_server.py: a loopback HTTP server speaking Ollama's /api/chat (+ /api/tags) and
OpenAI's /v1/chat/completions (+ /v1/models), streaming and not, with faults chosen by the
requested model name, for testing hone's chat backends (tests/interop/test_ab_run_http.py).

Answers are deterministic: "echo <sha256 of the canonical messages JSON>[:12] seed=<seed>"
so a test recomputes them from what hone stored and proves the exact messages and seed were
sent. Every request's JSON body is logged (GET /_log); in-flight requests are counted and the
maximum kept (GET /_stats); POST /_reset clears both and the per-request attempt counters;
POST /_heal makes the "always failing" models answer normally from then on.

Model names (a ":tag" suffix is ignored):
  ok          normal answer
  delay       normal answer after DELAY_S (concurrency measurements)
  flaky500    the first attempt of each distinct request gets HTTP 500, then normal
  flaky429    the first attempt gets 429 with Retry-After: 0, then normal
  badjson     200 with a malformed JSON body (streaming: a malformed line mid-stream)
  slow        sleeps SLOW_S before answering (past the client's timeout)
  cutonce     streaming cut mid-way (connection closed) on the first attempt, then normal
  cut         always cut mid-stream (non-streaming: the body is cut short) until /_heal
  refuse      "I'm sorry, but I can't help with that." (a refusal, in English)
  english     an English answer whatever the probe's language
  overflow    ollama: prompt_eval_count 1 (as if truncated); openai: HTTP 400 "the request
              exceeds the available context size"
  length      done_reason / finish_reason "length"
Bound to 127.0.0.1 only; every handler finishes in bounded time (SLOW_S at most).
"""
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY_S = 0.25
SLOW_S = 3.0


def canonical_messages(msgs):
    return json.dumps([{"role": m["role"], "content": m["content"]} for m in msgs],
                      ensure_ascii=False, separators=(",", ":"))


def echo_answer(msgs, seed):
    h = hashlib.sha256(canonical_messages(msgs).encode()).hexdigest()[:12]
    return f"echo {h} seed={seed}"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.attempts = {}
        self.log = []
        self.healed = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "fakellm/1"

    def log_message(self, *a):  # quiet
        pass

    # ---- plumbing
    def send_json(self, code, obj, headers=()):
        body = json.dumps(obj).encode() if not isinstance(obj, (bytes, bytearray)) else bytes(obj)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()

    def write(self, data):
        self.wfile.write(data.encode() if isinstance(data, str) else data)
        self.wfile.flush()

    def cut(self):
        """Closes the connection abruptly (no proper end of the body)."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    # ---- routes
    def do_GET(self):
        st = self.server.state
        if self.path == "/_stats":
            with st.lock:
                return self.send_json(200, {"max_in_flight": st.max_in_flight, "requests": st.requests})
        if self.path == "/_log":
            with st.lock:
                return self.send_json(200, st.log)
        if self.path == "/api/tags":
            models = [{"name": f"{n}:latest", "model": f"{n}:latest",
                       "digest": hashlib.sha256(n.encode()).hexdigest()} for n in ("ok", "delay", "refuse")]
            return self.send_json(200, {"models": models})
        if self.path == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [{"id": "ok", "object": "model"}]})
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_reset":
            with st.lock:
                st.reset()
            return self.send_json(200, {})
        if self.path == "/_heal":
            with st.lock:
                st.healed = True
            return self.send_json(200, {})
        try:
            req = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": "bad request json"})
        api = "ollama" if self.path == "/api/chat" else "openai" if self.path == "/v1/chat/completions" else None
        if not api:
            return self.send_json(404, {"error": "not found"})
        with st.lock:
            st.in_flight += 1
            st.requests += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
            st.log.append({"api": api, "body": req, "t": time.time(),
                           "authorization": self.headers.get("Authorization")})
            key = (api, json.dumps(req, sort_keys=True))
            attempt = st.attempts.get(key, 0) + 1
            st.attempts[key] = attempt
            healed = st.healed
        try:
            self.answer(api, req, attempt, healed)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with st.lock:
                st.in_flight -= 1

    def answer(self, api, req, attempt, healed):
        model = str(req.get("model", "")).split(":")[0]
        msgs = req.get("messages") or []
        stream = bool(req.get("stream"))
        if api == "ollama":
            opts = req.get("options") or {}
            seed = opts.get("seed")
        else:
            seed = req.get("seed")
        text = echo_answer(msgs, seed)
        finish = "stop"
        prompt_tokens = sum(len(m["content"]) for m in msgs) // 4 + 4
        if model == "delay":
            time.sleep(DELAY_S)
        elif model == "flaky500" and attempt == 1:
            return self.send_json(500, {"error": "internal error (injected)"})
        elif model == "flaky429" and attempt == 1:
            return self.send_json(429, {"error": "rate limited (injected)"}, headers=[("Retry-After", "0")])
        elif model == "slow":
            time.sleep(SLOW_S)
        elif model == "refuse":
            text = "I'm sorry, but I can't help with that."
        elif model == "english":
            text = "This answer is written in English whatever the question was, on purpose."
        elif model == "length":
            finish = "length"
        elif model == "overflow":
            if api == "openai":
                return self.send_json(400, {"error": {"code": 400, "message":
                                      "the request exceeds the available context size, try increasing it",
                                      "type": "exceed_context_size_error"}})
            prompt_tokens = 1
        bad = model == "badjson" and not healed
        cut = (model == "cut" and not healed) or (model == "cutonce" and attempt == 1)
        ntok = len(text.split())
        if api == "ollama":
            self.answer_ollama(req, text, finish, prompt_tokens, ntok, stream, bad, cut)
        else:
            self.answer_openai(req, text, finish, prompt_tokens, ntok, stream, bad, cut)

    def answer_ollama(self, req, text, finish, ptok, ntok, stream, bad, cut):
        final = {"model": req.get("model"), "created_at": "2026-01-01T00:00:00Z",
                 "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": finish,
                 "prompt_eval_count": ptok, "eval_count": ntok}
        if not stream:
            if bad:
                return self.send_json(200, b'{"model": "badjson", "message": {"role": "assistant", "content": "x"')
            final["message"]["content"] = text
            body = json.dumps(final).encode()
            if cut:  # announce the whole length, send half, close
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.write(body[: len(body) // 2])
                return self.cut()
            return self.send_json(200, body)
        self.start_stream("application/x-ndjson")
        words = text.split(" ")
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            self.write(json.dumps({"model": req.get("model"), "message": {"role": "assistant", "content": piece},
                                   "done": False}) + "\n")
            if bad and i == 1:
                self.write('{"message": {"content": "oops"\n')
                return
            if cut and i == len(words) // 2:
                return self.cut()
        self.write(json.dumps(final) + "\n")

    def answer_openai(self, req, text, finish, ptok, ntok, stream, bad, cut):
        usage = {"prompt_tokens": ptok, "completion_tokens": ntok, "total_tokens": ptok + ntok}
        if not stream:
            if bad:
                return self.send_json(200, b'{"choices": [{"message": {"content": oops}}]}')
            obj = {"id": "chatcmpl-1", "object": "chat.completion", "model": req.get("model"),
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                "finish_reason": finish}], "usage": usage}
            body = json.dumps(obj).encode()
            if cut:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.write(body[: len(body) // 2])
                return self.cut()
            return self.send_json(200, body)
        self.start_stream("text/event-stream")
        words = text.split(" ")
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": req.get("model")}
        self.write(": a comment line, ignored\n\n")
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            chunk = dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            self.write("data: " + json.dumps(chunk) + "\n\n")
            if bad and i == 1:
                self.write("data: {not json}\n\n")
                return
            if cut and i == len(words) // 2:
                return self.cut()
        self.write("data: " + json.dumps(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
                   + "\n\n")
        if (req.get("stream_options") or {}).get("include_usage"):
            self.write("data: " + json.dumps(dict(base, choices=[], usage=usage)) + "\n\n")
        self.write("data: [DONE]\n\n")


class FakeServer:
    """with FakeServer() as s: s.url ... (a daemon thread serves until the block ends)."""

    def __enter__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = State()
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def state(self):
        return self.httpd.state


def dead_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
