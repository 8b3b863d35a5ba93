"""test_ab_run_http.py: `hone ab run` against a fake Ollama + OpenAI server on loopback
(tests/interop/fakellm/fake_llm_server.py), non-streaming and streaming, with faults.

Compared: each stored answer against the server's deterministic echo of the exact messages
and seed it received (recomputed here from the stored messages JSON); the request bodies
the server logged against the spec (options num_ctx, num_predict, temperature, top_p, seed;
OpenAI's max_tokens, seed, stream_options); token counts against the server's usage; and
per fault: 500 / 429 retried (attempts == 2, answers right), malformed JSON, server down,
timeouts and cut streams recorded as errors (one row per cell, nothing lost), then healed by
--retry-errors with no duplicate; overflow, refusal and language flags. Concurrency: the
server's own count of requests in flight is exactly N with --concurrency N (never more), and
the wall time of 16 delayed requests drops accordingly (speed-up >= 2.5 for N = 4, ideal 4).
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fakellm"))
from fake_llm_server import FakeServer, canonical_messages, dead_port, echo_answer, DELAY_S  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
HONE = os.path.join(ROOT, "build", "hone")
FAILS = []
CUTOFF, OVERFLOW, REFUSAL, LANG = 1, 2, 4, 8


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_spec(tmp, name, models, samples=2, probes=None):
    probes = probes or [
        {"id": "p-en", "prompt": "Is the sky blue?", "category": "c", "lang": "en", "signal": "s"},
        {"id": "p-ru", "prompt": "Небо голубое?", "category": "c", "lang": "ru", "signal": "s"},
        {"id": "p-zh", "prompt": "天空是蓝色的吗？", "category": "c", "lang": "zh", "signal": "s"},
    ]
    write(os.path.join(tmp, "probes.jsonl"), "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in probes))
    write(os.path.join(tmp, "kernel.txt"), "Be honest and kind.\n")
    lines = [f"name: {name}", "models:"]
    for m in models:
        lines.append(f"  - id: {m['id']}")
        key = f", api_key_env: {m['key_env']}" if m.get("key_env") else ""
        lines.append(f"    {m['kind']}: {{name: {m['name']}, url: '{m['url']}'{key}}}")
        if m.get("num_ctx"):
            lines.append(f"    num_ctx: {m['num_ctx']}")
    lines += ["kernels:", "  K: kernel.txt", "conditions:", "  - id: none", "    mode: none",
              "  - id: sys", "    mode: system", "    kernel: K", "baseline: none", "probes: probes.jsonl",
              f"samples: {samples}", "sampling: {temperature: 0.5, top_p: 0.9, max_tokens: 64, seed: 7}"]
    path = os.path.join(tmp, name + ".yaml")
    write(path, "\n".join(lines) + "\n")
    return path


def run(spec, db, *flags, env_extra=None, timeout=120):
    env = dict(os.environ, HONE_LLM_BACKOFF_S="0.01", HONE_TEST_OPENAI_KEY="sk-test-123")
    env.update(env_extra or {})
    t0 = time.time()
    p = subprocess.run([HONE, "ab", "run", spec, "--db", db, "--no-judge", *flags], capture_output=True, text=True,
                       env=env, timeout=timeout)
    return p, time.time() - t0


def rows(db, model=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    q = "SELECT * FROM answers" + (" WHERE model=?" if model else "") + " ORDER BY id"
    r = [dict(x) for x in con.execute(q, (model,) if model else ())]
    con.close()
    return r


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def post(url):
    req = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def one_row_per_cell(db, n_models, what):
    con = sqlite3.connect(db)
    n, d = con.execute("SELECT count(*), count(DISTINCT model||'|'||condition||'|'||probe||'|'||sample) FROM answers").fetchone()
    con.close()
    check(n == d == n_models * 2 * 3 * 2, f"{what}: {n} rows, {d} distinct cells, expected {n_models * 12}")


def check_echo(db, model, what, attempts=1):
    rs = rows(db, model)
    good = [r for r in rs if r["error"] is None and r["answer"] == echo_answer(json.loads(r["messages"]), r["seed"])]
    check(len(rs) == 12 and len(good) == 12, f"{what}: {len(good)}/12 answers echo the stored messages and seed")
    att = sorted({json.loads(r["params"])["attempts"] for r in rs})
    check(att == [attempts], f"{what}: attempts per cell {att}, expected [{attempts}]")
    return rs


def main():
    if not os.access(HONE, os.X_OK):
        print("build/hone missing: run make")
        return 1
    tmp = tempfile.mkdtemp(prefix="hone-abhttp-")
    with FakeServer() as srv:
        u = srv.url
        down = f"http://127.0.0.1:{dead_port()}"
        # ---- A: non-streaming, faults ------------------------------------------------------
        models = [
            {"id": "o-ok", "kind": "ollama", "name": "ok", "url": u, "num_ctx": 2048},
            {"id": "a-ok", "kind": "openai", "name": "ok", "url": u + "/v1", "key_env": "HONE_TEST_OPENAI_KEY"},
            {"id": "o-500", "kind": "ollama", "name": "flaky500", "url": u},
            {"id": "a-429", "kind": "openai", "name": "flaky429", "url": u + "/v1"},
            {"id": "o-bad", "kind": "ollama", "name": "badjson", "url": u},
            {"id": "a-bad", "kind": "openai", "name": "badjson", "url": u + "/v1"},
            {"id": "a-down", "kind": "openai", "name": "ok", "url": down + "/v1"},
            {"id": "o-cut", "kind": "ollama", "name": "cut", "url": u},
            {"id": "o-flags", "kind": "ollama", "name": "english", "url": u},
            {"id": "a-refuse", "kind": "openai", "name": "refuse", "url": u + "/v1"},
            {"id": "o-over", "kind": "ollama", "name": "overflow", "url": u, "num_ctx": 2048},
            {"id": "a-over", "kind": "openai", "name": "overflow", "url": u + "/v1"},
            {"id": "a-len", "kind": "openai", "name": "length", "url": u + "/v1"},
        ]
        spec = make_spec(tmp, "faults", models)
        db = os.path.join(tmp, "faults.db")
        p, dt = run(spec, db, "--concurrency", "4", "--retries", "2", "--timeout", "5")
        print(p.stderr.strip().splitlines()[-2:] if p.stderr else "")
        check(p.returncode == 3, f"A: exit status 3 (some cells failed), got {p.returncode}")
        one_row_per_cell(db, len(models), "A")
        rs = check_echo(db, "o-ok", "A ollama ok")
        check(all(r["prompt_tokens"] > 0 and r["answer_tokens"] == 3 and r["finish_reason"] == "stop" for r in rs),
              "A ollama ok: token counts from prompt_eval_count/eval_count, finish stop")
        check(rs[0]["model_identity"] == "ollama:ok@sha256:" + hashlib.sha256(b"ok").hexdigest(),
              f"A ollama identity from /api/tags: {rs[0]['model_identity']}")
        check(all(r["flags"] == 0 for r in rs), "A ollama ok: no flags")
        rs = check_echo(db, "a-ok", "A openai ok")
        check(rs[0]["model_identity"] == f"openai:ok@{u}/v1", f"A openai identity: {rs[0]['model_identity']}")
        check_echo(db, "o-500", "A ollama 500 then ok", attempts=2)
        check_echo(db, "a-429", "A openai 429 then ok", attempts=2)
        for m, want in (("o-bad", "malformed JSON"), ("a-bad", "malformed JSON"), ("a-down", "onnect"),
                        ("o-cut", "")):
            rs = rows(db, m)
            errs = [r for r in rs if r["error"] and want in r["error"] and r["answer"] is None]
            check(len(errs) == 12, f"A {m}: 12 cells stored as errors mentioning '{want}': {rs[0]['error']!r}")
        att = {json.loads(r["params"])["attempts"] for r in rows(db, "a-down")}
        check(att == {3}, f"A server down: retried (attempts {att}, expected 3 = 1 + --retries 2)")
        att = {json.loads(r["params"])["attempts"] for r in rows(db, "o-bad")}
        check(att == {1}, f"A malformed JSON: not retried (attempts {att})")
        rs = rows(db, "o-flags")
        lang = {r["probe"]: bool(r["flags"] & LANG) for r in rs}
        check(lang == {"p-en": False, "p-ru": True, "p-zh": True}, f"A language flag on ru/zh only: {lang}")
        check(all(r["flags"] & REFUSAL for r in rows(db, "a-refuse")), "A refusal flag on 'I'm sorry, but I can't help'")
        check(not any(r["flags"] & REFUSAL for r in rows(db, "o-ok")), "A no refusal flag on echo answers")
        check(all(r["flags"] & OVERFLOW and r["error"] is None for r in rows(db, "o-over")),
              "A ollama: prompt_eval_count below the prompt's length -> overflow flag")
        check(all(r["flags"] & OVERFLOW and r["error"] for r in rows(db, "a-over")),
              "A openai: 400 'exceeds the available context size' -> error + overflow flag")
        check(all(r["flags"] & CUTOFF and r["finish_reason"] == "length" for r in rows(db, "a-len")),
              "A finish_reason length -> cutoff flag")
        # the request bodies
        log = get(u + "/_log")
        ol = [e["body"] for e in log if e["api"] == "ollama" and e["body"]["model"] == "ok"]
        o0 = ol[0]["options"]
        check(len(ol) == 12 and o0.get("num_ctx") == 2048 and o0.get("num_predict") == 64 and
              abs(o0.get("temperature") - 0.5) < 1e-9 and abs(o0.get("top_p") - 0.9) < 1e-9 and
              ol[0]["stream"] is False, f"A ollama request options: {o0}")
        seeds = sorted(b["options"]["seed"] for b in ol)
        con = sqlite3.connect(db)
        want = sorted(s for (s,) in con.execute("SELECT seed FROM answers WHERE model='o-ok'"))
        con.close()
        check(seeds == want, "A ollama: the seed sent is the cell's seed")
        al = [e["body"] for e in log if e["api"] == "openai" and e["body"]["model"] == "ok"]
        check(len(al) == 12 and al[0]["max_tokens"] == 64 and "stream_options" not in al[0],
              f"A openai request: max_tokens {al[0].get('max_tokens')}")
        auth = {e["authorization"] for e in log if e["api"] == "openai" and e["body"]["model"] == "ok"}
        check(auth == {"Bearer sk-test-123"}, f"A openai: the key from api_key_env is sent as a Bearer token: {auth}")
        sysmsg = [b["messages"] for b in al if len(b["messages"]) == 2]
        check(len(sysmsg) == 6 and sysmsg[0][0] == {"role": "system", "content": "Be honest and kind."},
              "A condition 'system': the kernel is the system message (trailing newline dropped)")

        # resume: a rerun does nothing; --retry-errors after healing fills the failed cells
        before = {(r["model"], r["condition"], r["probe"], r["sample"]): (r["id"], r["created"]) for r in rows(db)}
        post(u + "/_heal")
        p2, _ = run(spec, db, "--concurrency", "4", "--retries", "2", "--timeout", "5",
                    "--only", "model=o-bad,model=o-cut,model=o-ok")
        check("0 to do" in p2.stderr, "A rerun without --retry-errors: nothing to do")
        p2, _ = run(spec, db, "--concurrency", "4", "--retries", "2", "--timeout", "5", "--retry-errors",
                    "--only", "model=o-bad,model=o-cut,model=o-ok")
        check(p2.returncode == 0, f"A --retry-errors: exit 0 ({p2.stderr.strip()[-200:]})")
        one_row_per_cell(db, len(models), "A after --retry-errors")
        check_echo(db, "o-bad", "A healed badjson")
        check_echo(db, "o-cut", "A healed cut")
        after = {(r["model"], r["condition"], r["probe"], r["sample"]): (r["id"], r["created"]) for r in rows(db)}
        same = all(after[k] == v for k, v in before.items() if k[0] == "o-ok")
        check(same, "A --retry-errors leaves successful rows untouched")

        # ---- B: streaming ------------------------------------------------------------------
        post(u + "/_reset")
        models = [
            {"id": "o-ok", "kind": "ollama", "name": "ok", "url": u},
            {"id": "a-ok", "kind": "openai", "name": "ok", "url": u + "/v1"},
            {"id": "o-cut1", "kind": "ollama", "name": "cutonce", "url": u},
            {"id": "a-cut1", "kind": "openai", "name": "cutonce", "url": u + "/v1"},
            {"id": "o-cut", "kind": "ollama", "name": "cut", "url": u},
            {"id": "a-cut", "kind": "openai", "name": "cut", "url": u + "/v1"},
            {"id": "o-bad", "kind": "ollama", "name": "badjson", "url": u},
            {"id": "a-bad", "kind": "openai", "name": "badjson", "url": u + "/v1"},
        ]
        spec = make_spec(tmp, "stream", models)
        db = os.path.join(tmp, "stream.db")
        p, dt = run(spec, db, "--stream", "--concurrency", "4", "--retries", "2", "--timeout", "5")
        check(p.returncode == 3, f"B: exit status 3, got {p.returncode}")
        one_row_per_cell(db, len(models), "B")
        check_echo(db, "o-ok", "B ollama stream")
        rs = check_echo(db, "a-ok", "B openai stream (SSE)")
        check(all(r["answer_tokens"] == 3 and r["prompt_tokens"] > 0 for r in rs), "B openai stream: usage chunk read")
        check_echo(db, "o-cut1", "B ollama cut once, retried", attempts=2)
        check_echo(db, "a-cut1", "B openai cut once, retried", attempts=2)
        for m, want in (("o-cut", "stream ended"), ("a-cut", "stream ended"), ("o-bad", "malformed JSON"),
                        ("a-bad", "malformed JSON")):
            rs = rows(db, m)
            n = sum(1 for r in rs if r["error"] and want in r["error"])
            check(n == 12, f"B {m}: {n}/12 stored as errors mentioning '{want}': {rs[0]['error']!r}")
        sl = [e["body"] for e in get(u + "/_log") if e["api"] == "openai" and e["body"]["model"] == "ok"]
        check(sl[0]["stream"] is True and sl[0].get("stream_options") == {"include_usage": True},
              "B openai: stream + include_usage sent")

        # ---- C: slow answers past the timeout ------------------------------------------------
        models = [{"id": "o-slow", "kind": "ollama", "name": "slow", "url": u},
                  {"id": "a-slow", "kind": "openai", "name": "slow", "url": u + "/v1"}]
        spec = make_spec(tmp, "slow", models, samples=1,
                         probes=[{"id": "p1", "prompt": "hi", "category": "c", "lang": "en", "signal": "s"}])
        db = os.path.join(tmp, "slow.db")
        p, dt = run(spec, db, "--concurrency", "2", "--retries", "1", "--timeout", "0.4")
        rs = rows(db)
        n = sum(1 for r in rs if r["error"] and "timeout" in r["error"] and json.loads(r["params"])["attempts"] == 2)
        check(len(rs) == 4 and n == 4, f"C: 4 cells, {n} timed out after 2 attempts ({rs[0]['error'] if rs else ''!r})")
        check(dt < 8, f"C: the timeout holds ({dt:.1f} s for 2 attempts x 0.4 s x 2 rounds)")

        # ---- D: concurrency ------------------------------------------------------------------
        models = [{"id": "o-delay", "kind": "ollama", "name": "delay", "url": u}]
        probes = [{"id": f"q{i}", "prompt": f"question {i}", "category": "c", "lang": "en", "signal": "s"}
                  for i in range(4)]
        spec = make_spec(tmp, "conc", models, samples=2, probes=probes)  # 2 cond x 4 probes x 2 = 16 cells
        times = {}
        for n in (1, 4):
            post(u + "/_reset")
            db = os.path.join(tmp, f"conc{n}.db")
            p, dt = run(spec, db, "--concurrency", str(n))
            st = get(u + "/_stats")
            times[n] = dt
            check(st["max_in_flight"] == n and st["requests"] == 16,
                  f"D --concurrency {n}: server saw at most {st['max_in_flight']} in flight ({st['requests']} requests)")
            check(f"max in flight {n}" in p.stderr, f"D --concurrency {n}: hone reports max in flight {n}")
            print(f"     D --concurrency {n}: 16 requests of {DELAY_S} s in {dt:.2f} s")
        speed = times[1] / times[4]
        check(speed >= 2.5, f"D throughput: --concurrency 4 is {speed:.2f}x --concurrency 1 (ideal 4, want >= 2.5)")
    print(f"{len(FAILS)} failed" if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
