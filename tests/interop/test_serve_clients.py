"""test_serve_clients.py: `hone serve` against the official PyPI clients `openai` and
`ollama` (issue 9), on SmolLM2-135M-Instruct (GGUF, it has a chat template), with two
random LoRA adapters served beside the base.

Checked (exact comparisons: strings and integers; greedy = temperature 0):
- openai: models.list() lists NAME, NAME+a, NAME+b; chat.completions (whole and
  streamed: the streamed deltas join to the whole answer), completions (whole and
  streamed), usage counts; finish_reason "length" at max_tokens.
- ollama: list(), show(), chat and generate, streamed (JSON lines, the default) and
  stream=False: the same greedy text as openai's chat for the same messages;
  prompt_eval_count, eval_count, durations > 0, done_reason.
- adapters: NAME, NAME+a, NAME+b asked at once (three concurrent requests, so their
  decode steps run batched) answer three different texts, and each equals
  `hone generate --adapter-path DIR --temp 0 --json` on the same prompt (text and
  completion token count). The adapters are MLX folders with random nonzero A and B
  written here with numpy + safetensors (mlx-lm's layout: lora_a (n_in, r),
  lora_b (r, n_out)), shapes read from the GGUF with gguf-py.
- errors, each a 4xx with a JSON error body: malformed JSON 400, unknown model 404
  (openai.NotFoundError, ollama.ResponseError 404), a wrong option type 400, top_p
  out of range 400, a missing bearer key 401 (/health needs none), a body over
  --max-body 413, a wrong method 405, an unknown path 404; the server still answers.
- cancellation: with --parallel 1, a streamed request for 1500 tokens closed after
  its first chunk frees the slot: the next request answers within 20 s (the first
  would otherwise hold the only slot for 1500 tokens, ~25 s or more here).
- the command line: usage errors exit 2 with one line naming the flag; a missing
  adapter folder exits 1 naming the adapter.
Skips (exit 0, a SKIP line) when the model or the clients are missing.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
SMOL = os.path.join(MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf")
NAME = "smol"
KEY = "test-key-123"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def check(cond, msg):
    if cond:
        print("  ok", msg)
    else:
        fail(msg)


if not os.path.exists(SMOL):
    print(f"SKIP: {SMOL} not found (run `make models`)")
    sys.exit(0)
try:
    import numpy as np
    import openai
    import ollama
    import gguf
    from safetensors.numpy import save_file
except ImportError as e:
    print(f"SKIP: {e} (scripts/pyenv.sh installs openai and ollama)")
    sys.exit(0)


def make_adapter(path, seed, amp, layers):
    """A random MLX adapter (rank 8, q/v/o/down projections on `layers`) for SmolLM2."""
    r = gguf.GGUFReader(SMOL)
    kv = {f.name: f for f in r.fields.values()}

    def u32(k):
        f = kv[k]
        return int(f.parts[f.data[0]][0])

    D, F = u32("llama.embedding_length"), u32("llama.feed_forward_length")
    H, KVH = u32("llama.attention.head_count"), u32("llama.attention.head_count_kv")
    hd = D // H
    shapes = {"self_attn.q_proj": (D, H * hd), "self_attn.v_proj": (D, KVH * hd),
              "self_attn.o_proj": (H * hd, D), "mlp.down_proj": (F, D)}
    rng = np.random.default_rng(seed)
    rank = 8
    t = {}
    for L in layers:
        for mod, (ni, no) in shapes.items():
            t[f"model.layers.{L}.{mod}.lora_a"] = (rng.uniform(-1, 1, (ni, rank)) / np.sqrt(ni)).astype(np.float32)
            t[f"model.layers.{L}.{mod}.lora_b"] = (rng.uniform(-1, 1, (rank, no)) * amp).astype(np.float32)
    os.makedirs(path, exist_ok=True)
    save_file(t, os.path.join(path, "adapters.safetensors"))
    cfg = {"fine_tune_type": "lora", "num_layers": len(layers),
           "lora_parameters": {"rank": rank, "scale": 2.0, "dropout": 0.0,
                               "keys": ["self_attn.q_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.down_proj"]}}
    with open(os.path.join(path, "adapter_config.json"), "w") as f:
        json.dump(cfg, f)


# ---- command line: usage errors exit 2 with one stderr line naming the flag -----------
for args, needle in [(["serve"], "--model"), (["serve", "--model", SMOL, "--adapter", "foo"], "NAME=DIR"),
                     (["serve", "--model", SMOL, "--port", "70000"], "--port"),
                     (["serve", "--model", SMOL, "--parallel", "0"], "--parallel"),
                     (["serve", "--model", SMOL, "--api-key-env", "HONE_SURELY_UNSET_VAR"], "HONE_SURELY_UNSET_VAR")]:
    r = subprocess.run([HONE, *args], capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and needle in lines[0], f"usage error: {' '.join(args[2:]) or 'no --model'}"
          f" -> {lines[0] if lines else ''}")
r = subprocess.run([HONE, "serve", "--model", SMOL, "--adapter", "a=/nonexistent", "--port", "0"],
                   capture_output=True, text=True, timeout=60)
check(r.returncode == 1 and "adapter a" in r.stderr, f"missing adapter folder -> exit 1: {r.stderr.strip()}")

tmp = tempfile.mkdtemp(prefix="hone-serve-")
AD = {"a": os.path.join(tmp, "ad_a"), "b": os.path.join(tmp, "ad_b")}
make_adapter(AD["a"], 1, 0.15, range(10, 30))
make_adapter(AD["b"], 2, 0.08, range(0, 30))


def start(*extra, env_key=True):
    env = dict(os.environ)
    args = [HONE, "serve", "--model", SMOL, "--name", NAME, "--port", "0", "--ctx", "2048", *extra]
    if env_key:
        env["HONE_TEST_KEY"] = KEY
        args += ["--api-key-env", "HONE_TEST_KEY"]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stderr.readline()
    m = re.search(r"listening on http://[\d.]+:(\d+)", line)
    if not m:
        p.kill()
        raise SystemExit(f"FAIL: hone serve did not start: {line!r} {p.stderr.read()!r}")
    print("  server:", line.strip())
    return p, int(m.group(1))


def raw(port, method, path, body=None, headers=None, key=KEY):
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def generate_cli(prompt, adapter, n):
    args = [HONE, "generate", "--model", SMOL, "--prompt", prompt, "--temp", "0", "-n", str(n), "--json"]
    if adapter:
        args += ["--adapter-path", AD[adapter]]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode:
        fail(f"hone generate {adapter}: {r.stderr}")
        return None
    return json.loads(r.stdout)


srv, port = start("--adapter", f"a={AD['a']}", "--adapter", f"b={AD['b']}", "--parallel", "4",
                  "--max-body", "65536")
try:
    base_url = f"http://127.0.0.1:{port}"
    oa = openai.OpenAI(base_url=base_url + "/v1", api_key=KEY, max_retries=0)
    ol = ollama.Client(host=base_url, headers={"Authorization": f"Bearer {KEY}"})
    MSG = [{"role": "user", "content": "What is the capital of France?"}]

    # ---- openai ----------------------------------------------------------------------
    ids = sorted(m.id for m in oa.models.list().data)
    check(ids == sorted([NAME, NAME + "+a", NAME + "+b"]), f"openai models.list: {ids}")
    c = oa.chat.completions.create(model=NAME, messages=MSG, max_tokens=12, temperature=0)
    text = c.choices[0].message.content
    check(bool(text) and c.usage.completion_tokens > 0 and c.usage.prompt_tokens > 0
          and c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens,
          f"openai chat: {text!r}, usage {c.usage.prompt_tokens}+{c.usage.completion_tokens}")
    parts, fin = [], None
    for ch in oa.chat.completions.create(model=NAME, messages=MSG, max_tokens=12, temperature=0, stream=True):
        if ch.choices:
            parts.append(ch.choices[0].delta.content or "")
            fin = ch.choices[0].finish_reason or fin
    check("".join(parts) == text and fin == c.choices[0].finish_reason,
          f"openai chat stream: {len(parts)} chunks join to the same text, finish {fin}")
    c3 = oa.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "Write a long story."}],
                                    max_tokens=3, temperature=0)
    check(c3.choices[0].finish_reason == "length" and c3.usage.completion_tokens == 3,
          f"openai chat max_tokens 3: finish {c3.choices[0].finish_reason}, {c3.usage.completion_tokens} tokens")
    cp = oa.completions.create(model=NAME, prompt="The capital of France is", max_tokens=6, temperature=0)
    ctext = cp.choices[0].text
    sparts = [ch.choices[0].text for ch in oa.completions.create(model=NAME, prompt="The capital of France is",
                                                                  max_tokens=6, temperature=0, stream=True)
              if ch.choices]
    check(bool(ctext) and "".join(sparts) == ctext and cp.usage.completion_tokens == 6,
          f"openai completions: {ctext!r}, streamed the same, 6 tokens")

    # ---- ollama ----------------------------------------------------------------------
    names = sorted(m.model for m in ol.list().models)
    check(names == sorted([NAME, NAME + "+a", NAME + "+b"]), f"ollama list: {names}")
    sh = ol.show(NAME)
    check(sh.modelinfo.get("general.architecture") == "llama" and sh.details.family == "llama",
          f"ollama show: architecture {sh.modelinfo.get('general.architecture')}, template {sh.template}")
    opts = {"num_predict": 12, "temperature": 0}
    r = ol.chat(model=NAME, messages=MSG, options=opts, stream=False)
    check(r.message.content == text and r.done and r.done_reason in ("stop", "length")
          and r.eval_count == c.usage.completion_tokens and r.prompt_eval_count == c.usage.prompt_tokens
          and r.total_duration > 0 and r.eval_duration > 0 and r.prompt_eval_duration > 0,
          f"ollama chat stream=False: same text as openai, eval_count {r.eval_count}, "
          f"prompt_eval_count {r.prompt_eval_count}, done_reason {r.done_reason}")
    chunks = list(ol.chat(model=NAME, messages=MSG, options=opts, stream=True))
    joined = "".join(ch.message.content for ch in chunks)
    check(joined == text and chunks[-1].done and all(not ch.done for ch in chunks[:-1])
          and chunks[-1].eval_count == r.eval_count,
          f"ollama chat stream: {len(chunks)} lines join to the same text, last done")
    g = ol.generate(model=NAME, prompt="What is the capital of France?", options=opts, stream=False)
    gs = list(ol.generate(model=NAME, prompt="What is the capital of France?", options=opts, stream=True))
    check(g.response == text and "".join(x.response for x in gs) == text and gs[-1].done,
          "ollama generate (templated) stream=False and streamed: same text as chat")
    g2 = ol.generate(model=NAME, prompt="The capital of France is", raw=True,
                     options={"num_predict": 6, "temperature": 0, "seed": 7}, stream=False)
    check(g2.response == ctext and g2.eval_count == 6 and g2.done_reason == "length",
          f"ollama generate raw: same as openai completions, done_reason {g2.done_reason}")
    s1 = ol.generate(model=NAME, prompt="Tell me a joke.", options={"num_predict": 10, "seed": 42,
                                                                   "temperature": 1.0}, stream=False)
    s2 = ol.generate(model=NAME, prompt="Tell me a joke.", options={"num_predict": 10, "seed": 42,
                                                                   "temperature": 1.0}, stream=False)
    check(s1.response == s2.response, f"ollama seed 42 at temperature 1 twice: same text {s1.response!r}")

    # ---- adapters: base, +a, +b at once; each equals hone generate ---------------------
    prompt = "Name three colors."
    got = {}

    def ask(which):
        model = NAME if which is None else f"{NAME}+{which}"
        rr = oa.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                        max_tokens=16, temperature=0)
        got[which] = (rr.choices[0].message.content, rr.usage.completion_tokens)

    ths = [threading.Thread(target=ask, args=(w,)) for w in (None, "a", "b")]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    texts = [got[w][0] for w in (None, "a", "b")]
    check(len(set(texts)) == 3, f"base, +a, +b answer differently: {texts}")
    for w in (None, "a", "b"):
        ref = generate_cli(prompt, w, 16)
        if ref is None:
            continue
        check(ref["text"] == got[w][0] and ref["completion_tokens"] == got[w][1],
              f"{NAME}{'' if w is None else '+' + w} == hone generate{' --adapter-path' if w else ''}: "
              f"{got[w][0]!r} ({got[w][1]} tokens)")

    # ---- errors ----------------------------------------------------------------------
    st, body = raw(port, "POST", "/v1/chat/completions", b"{not json")
    check(st == 400 and "error" in json.loads(body), f"malformed JSON -> {st} {body}")
    st, body = raw(port, "POST", "/api/chat", b"[1,2")
    check(st == 400 and "error" in json.loads(body), f"malformed JSON (ollama) -> {st} {body}")
    try:
        oa.chat.completions.create(model="nope", messages=MSG, max_tokens=2)
        fail("unknown model: no error")
    except openai.NotFoundError as e:
        check(e.status_code == 404, f"openai unknown model -> NotFoundError {e.status_code}")
    try:
        ol.chat(model="nope", messages=MSG)
        fail("ollama unknown model: no error")
    except ollama.ResponseError as e:
        check(e.status_code == 404, f"ollama unknown model -> ResponseError {e.status_code}: {e.error}")
    st, body = raw(port, "POST", "/api/generate", {"model": NAME, "prompt": "x", "options": {"temperature": "hot"}})
    check(st == 400 and "options.temperature" in json.loads(body)["error"], f"bad option type -> {st} {body}")
    st, body = raw(port, "POST", "/v1/chat/completions", {"model": NAME, "messages": MSG, "top_p": 7})
    check(st == 400 and "top_p" in json.loads(body)["error"]["message"], f"top_p 7 -> {st} {body}")
    st, body = raw(port, "POST", "/v1/chat/completions", {"model": NAME, "messages": MSG, "n": 2})
    check(st == 400, f"n 2 -> {st}")
    st, body = raw(port, "GET", "/v1/models", key=None)
    check(st == 401 and "error" in json.loads(body), f"no bearer key -> {st}")
    st, body = raw(port, "GET", "/v1/models", key="wrong")
    check(st == 401, f"wrong bearer key -> {st}")
    st, body = raw(port, "GET", "/health", key=None)
    check(st == 200 and json.loads(body)["status"] == "ok", f"/health without a key -> {st} {body}")
    st, body = raw(port, "POST", "/api/generate", b"{" + b" " * 70000 + b"}")
    check(st == 413 and "error" in json.loads(body), f"70 kB body over --max-body 65536 -> {st}")
    st, body = raw(port, "GET", "/api/chat")
    check(st == 405 and "error" in json.loads(body), f"GET /api/chat -> {st}")
    st, body = raw(port, "GET", "/nowhere")
    check(st == 404 and "error" in json.loads(body), f"unknown path -> {st}")
    st, body = raw(port, "GET", "/health")
    check(st == 200, "the server still answers after the errors")
finally:
    srv.terminate()
    try:
        srv.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        fail("hone serve did not stop on SIGTERM")
check(srv.returncode == 0, f"hone serve exits 0 on SIGTERM (got {srv.returncode})")

# ---- cancellation: one slot, a long stream abandoned -------------------------------
srv, port = start("--parallel", "1", env_key=False)
try:
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/completions", json.dumps({"model": NAME, "prompt": "1, 2, 3, 4, 5,", "max_tokens": 1500,
                                                        "temperature": 0, "stream": True}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first = resp.readline()
    conn.sock.close()
    conn.close()
    t0 = time.time()
    st, body = raw(port, "POST", "/v1/completions", {"model": NAME, "prompt": "Hello", "max_tokens": 4,
                                                     "temperature": 0}, key=None)
    dt = time.time() - t0
    check(first.startswith(b"data: ") and st == 200 and dt < 20,
          f"a stream closed after its first chunk frees the only slot: the next request took {dt:.1f} s")
finally:
    srv.terminate()
    srv.wait(timeout=30)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("serve clients: all checks passed")
