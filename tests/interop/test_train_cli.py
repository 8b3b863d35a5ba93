"""test_train_cli.py: `hone train` end to end (issue 5 items 3 and the command line).

Without a model (always run):
- --help exits 0 and states the optimizer semantics (mlx's Adam: no bias correction);
- bad flags exit 2 with ONE stderr line naming the flag; --fine-tune-type dora/full and an
  unknown YAML key fail with one line naming the problem (YAML: FILE:LINE: key).
With SmolLM2-135M-Instruct (Q4_1 GGUF; skipped with a message when absent), tiny runs
(--num-layers 1, rank 2, batch 1, chat data written here, --mask-prompt):
- precedence: the YAML file's iters/learning_rate/steps_per_report apply, a flag overrides
  the YAML (--num-iters, the seed's alias), the report shows the YAML's learning rate;
- mlx-lm's prompt_feature/completion_feature renames read {"question", "answer"} records;
- a malformed data line stops the run before training with FILE:LINE:COL;
- resume: 8 iterations straight vs 4 + --resume 4: the --json train_loss of every
  iteration (printed with 9 significant digits) and the bytes of adapters.safetensors are
  identical (exact comparison: the run is deterministic);
- SIGINT in the middle of a run: exit status 130, "Interrupted at iteration N", a
  checkpoint on disk; --resume finishes it with the same adapter bytes as the straight run;
- the files: adapters.safetensors in mlx-lm's layout (read with the PyPI safetensors
  package: model.layers.N.MODULE.lora_a (in, r), lora_b (r, out)), adapter_config.json,
  0000004_adapters.safetensors, adapters.best.safetensors, metrics.jsonl (JSON lines),
  loss.svg (well-formed XML with two series).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HONE = os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "hone"))
MODELS = os.environ.get("HONE_MODELS", os.path.join(ROOT, "models"))
SMOL = os.path.join(MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args, **kw):
    return subprocess.run([HONE, "train"] + args, capture_output=True, text=True, timeout=600, **kw)


tmp = tempfile.mkdtemp(prefix="hone-train-cli-")

# ---- without a model ----
r = run(["--help"])
check(r.returncode == 0 and "bias correction" in r.stdout and "--num-iters" in r.stdout, "--help: exit 0, optimizer semantics, seed aliases")
for args, want in [(["--bogus", "1"], "--bogus"), (["--batch-size", "x"], "--batch-size"),
                   (["--optimizer", "lion"], "--optimizer"), (["--mask-prompt=1"], "--mask-prompt"),
                   (["--lora-keys", "lm_head"], "lm_head")]:
    r = run(["--model", "m.gguf"] + args)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and want in lines[0], f"bad flag {args}: exit 2, one line naming {want!r} ({r.stderr.strip()!r})")
for ft in ["dora", "full"]:
    r = run(["--model", "m.gguf", "--fine-tune-type", ft])
    check(r.returncode == 1 and "not supported yet" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
          f"--fine-tune-type {ft}: one clear error ({r.stderr.strip()!r})")
cfg = os.path.join(tmp, "bad.yaml")
with open(cfg, "w") as f:
    f.write("model: m.gguf\niters: 3\nlora_parameters:\n  rank: 4\n  alpah: 8\n")
r = run(["-c", cfg])
check(r.returncode == 1 and f"{cfg}:5: lora_parameters: unknown key 'alpah'" in r.stderr, f"YAML unknown key names file:line:key ({r.stderr.strip()!r})")

if not os.path.exists(SMOL):
    print(f"SKIP the training runs: {SMOL} not found (run `make models`)")
    sys.exit(1 if failures else 0)

# ---- data ----
data = os.path.join(tmp, "data")
os.makedirs(data)
def conv(q, a):
    return json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
with open(os.path.join(data, "train.jsonl"), "w") as f:
    for i in range(12):
        f.write(conv(f"What is {i} plus {i + 1}?", f"Beep boop: {2 * i + 1}.") + "\n")
with open(os.path.join(data, "valid.jsonl"), "w") as f:
    for i in range(12, 14):
        f.write(conv(f"What is {i} plus {i + 1}?", f"Beep boop: {2 * i + 1}.") + "\n")
with open(os.path.join(data, "test.jsonl"), "w") as f:
    for i in range(14, 17):
        f.write(conv(f"What is {i} plus {i + 1}?", f"Beep boop: {2 * i + 1}.") + "\n")

BASE = ["--model", SMOL, "--data", data, "--num-layers", "1", "--lora-rank", "2", "--batch-size", "1",
        "--mask-prompt", "--max-seq-length", "64", "--learning-rate", "2e-4", "--steps-per-report", "1",
        "--steps-per-eval", "1000", "--val-batches", "1", "--save-every", "4", "--json", "--seed", "5"]


def losses(stdout):
    out = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            if "train_loss" in j:
                out[j["iter"]] = line.split('"train_loss":')[1].split(",")[0]  # the printed digits
    return out


def read(p):
    with open(p, "rb") as f:
        return f.read()


# precedence: YAML < flags
ydir = os.path.join(tmp, "yaml")
cfg = os.path.join(tmp, "run.yaml")
with open(cfg, "w") as f:
    f.write("iters: 2\nlearning_rate: 3.5e-4\nsteps_per_report: 1\nlora_parameters:\n  rank: 2\n  scale: 10.0\n  dropout: 0.0\n")
r = run(["-c", cfg, "--model", SMOL, "--data", data, "--num-layers", "1", "--batch-size", "1", "--mask-prompt",
         "--num-iters", "3", "--adapter-path", ydir, "--val-batches", "1"])
reps = [l for l in r.stdout.splitlines() if l.startswith("Iter ") and "Train loss" in l]
check(r.returncode == 0 and len(reps) == 3 and all("Learning Rate 3.500e-04" in l for l in reps),
      f"precedence: flag --num-iters 3 over YAML iters 2, YAML learning_rate applied ({len(reps)} report lines; rc {r.returncode} {r.stderr[-300:]!r})")
ac = json.load(open(os.path.join(ydir, "adapter_config.json")))
check(ac.get("lora_parameters", {}).get("scale") == 10.0 and ac.get("lora_parameters", {}).get("rank") == 2,
      f"adapter_config.json carries the YAML's lora_parameters ({ac.get('lora_parameters')})")

# mlx-lm's *_feature keys: records {"question", "answer"} read as prompt/completion
feat = os.path.join(tmp, "feat")
os.makedirs(feat)
with open(os.path.join(feat, "train.jsonl"), "w") as f:
    for i in range(3):
        f.write(json.dumps({"question": f"What is {i} plus 1?", "answer": f"Beep boop: {i + 1}."}) + "\n")
fy = os.path.join(tmp, "feat.yaml")
with open(fy, "w") as f:
    f.write("prompt_feature: question\ncompletion_feature: answer\n")
r = run(["-c", fy, "--model", SMOL, "--data", feat, "--num-layers", "1", "--lora-rank", "2", "--batch-size", "1",
         "--iters", "1", "--adapter-path", os.path.join(tmp, "featad"), "--mask-prompt"])
check(r.returncode == 0 and "Loaded 3 training" in r.stdout, f"prompt_feature/completion_feature renames ({r.stderr[-200:]!r})")

# malformed data: FILE:LINE:COL before training
bad = os.path.join(tmp, "bad")
os.makedirs(bad)
with open(os.path.join(bad, "train.jsonl"), "w") as f:
    f.write(conv("a", "b") + "\n" + '{"messages": [{"role": "user", "content": 3}]}\n')
r = run(["--model", SMOL, "--data", bad, "--adapter-path", os.path.join(tmp, "badad")])
check(r.returncode == 1 and os.path.join(bad, "train.jsonl") + ":2:" in r.stderr and "Iter" not in r.stdout,
      f"malformed line: file:line:col, nothing trained ({r.stderr.strip()[-200:]!r})")

# resume: 8 straight vs 4 + resume 4
a_dir, b_dir, c_dir = (os.path.join(tmp, n) for n in ("straight", "split", "sigint"))
ra = run(BASE + ["--iters", "8", "--adapter-path", a_dir])
check(ra.returncode == 0, f"8 straight: exit 0 ({ra.stderr[-300:]!r})")
rb1 = run(BASE + ["--iters", "4", "--adapter-path", b_dir])
rb2 = run(BASE + ["--iters", "8", "--adapter-path", b_dir, "--resume"])
check(rb1.returncode == 0 and rb2.returncode == 0, f"4 + --resume 4: exit 0 ({rb2.stderr[-300:]!r})")
la, lb = losses(ra.stdout), {**losses(rb1.stdout), **losses(rb2.stdout)}
check(len(la) == 8 and la == lb, f"resume: the 8 per-iteration losses are identical ({la} vs {lb})")
check(read(os.path.join(a_dir, "adapters.safetensors")) == read(os.path.join(b_dir, "adapters.safetensors")),
      "resume: adapters.safetensors byte-identical")

# SIGINT mid-run
p = subprocess.Popen([HONE, "train"] + BASE + ["--iters", "8", "--adapter-path", c_dir],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
sent = False
for line in p.stdout:
    if '"iter":3,' in line and "train_loss" in line and not sent:
        p.send_signal(signal.SIGINT)
        sent = True
rest_err = p.stderr.read()
rc = p.wait(timeout=600)
check(sent and rc == 130, f"SIGINT: exit status 130 (got {rc})")
check("Interrupted at iteration" in rest_err or "Interrupted at iteration" in (p.stdout.read() if p.stdout else ""),
      "SIGINT: 'Interrupted at iteration N' printed")
check(os.path.exists(os.path.join(c_dir, "checkpoint.safetensors")), "SIGINT: checkpoint.safetensors written")
rc2 = run(BASE + ["--iters", "8", "--adapter-path", c_dir, "--resume"])
check(rc2.returncode == 0 and read(os.path.join(a_dir, "adapters.safetensors")) == read(os.path.join(c_dir, "adapters.safetensors")),
      "SIGINT + --resume: adapters byte-identical to the straight run")

# --resume-adapter-file: starting from the straight run's final adapters, the validation
# loss at iteration 1 equals that run's final one (same weights, same batches)
def vals(stdout):
    return [json.loads(l)["val_loss"] for l in stdout.splitlines() if l.startswith("{") and "val_loss" in l]
rr = run(BASE + ["--iters", "1", "--adapter-path", os.path.join(tmp, "raf"), "--resume-adapter-file",
                 os.path.join(a_dir, "0000008_adapters.safetensors")])
check(rr.returncode == 0 and vals(rr.stdout)[:1] == vals(ra.stdout)[-1:],
      f"--resume-adapter-file: first val loss {vals(rr.stdout)[:1]} == the straight run's last {vals(ra.stdout)[-1:]}")
# --test alone: the test loss of --adapter-path's adapters
rt = run(["--model", SMOL, "--data", data, "--test", "--adapter-path", a_dir, "--mask-prompt", "--batch-size", "1", "--json"])
tl = [json.loads(l) for l in rt.stdout.splitlines() if l.startswith("{") and "test_loss" in l]
check(rt.returncode == 0 and len(tl) == 1 and 0 < tl[0]["test_loss"] < 20 and "Iter" not in rt.stderr,
      f"--test alone: one finite test loss, no training ({tl}, {rt.stderr[-200:]!r})")

# files
for n in ["adapters.safetensors", "adapter_config.json", "0000004_adapters.safetensors", "0000008_adapters.safetensors",
          "adapters.best.safetensors", "checkpoint.safetensors", "metrics.jsonl", "loss.svg"]:
    check(os.path.exists(os.path.join(a_dir, n)), f"file {n}")
from safetensors.numpy import load_file
t = load_file(os.path.join(a_dir, "adapters.safetensors"))
names = sorted(t)
ok = len(names) == 14 and all(n.startswith("model.layers.29.") and n.endswith((".lora_a", ".lora_b")) for n in names)
qa, qb = t.get("model.layers.29.self_attn.q_proj.lora_a"), t.get("model.layers.29.self_attn.q_proj.lora_b")
check(ok and qa is not None and qa.shape == (576, 2) and qb.shape == (2, 576),
      f"mlx-lm layout: 14 tensors of layer 29, q_proj lora_a (576, 2), lora_b (2, 576) ({names[:2]})")
ml = [json.loads(l) for l in open(os.path.join(a_dir, "metrics.jsonl"))]
check(sum("train_loss" in m for m in ml) == 8 and sum("val_loss" in m for m in ml) == 2, "metrics.jsonl: 8 train lines, 2 validation lines")
svg = ET.parse(os.path.join(a_dir, "loss.svg")).getroot()
check(len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2, "loss.svg: well-formed, two series")

# smoke: the seed's exact command line on Gemma 3 270M (Q4_K_M) with examples/train, 2 iterations
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")
if os.path.exists(GEMMA):
    ex = os.path.join(ROOT, "examples", "train")
    rg = run(["--model", GEMMA, "--train-data", os.path.join(ex, "train.jsonl"), "--valid-data", os.path.join(ex, "valid.jsonl"),
              "--num-layers", "8", "--batch-size", "1", "--num-iters", "2", "--learning-rate", "1e-4",
              "--adapter-path", os.path.join(tmp, "gemma"), "--mask-prompt", "--val-batches", "1"])
    v = [l for l in rg.stdout.splitlines() if "Val loss" in l]
    check(rg.returncode == 0 and len(v) == 2 and os.path.exists(os.path.join(tmp, "gemma", "adapters.safetensors")),
          f"Gemma 3 270M smoke, the seed's flags: 2 iterations, 2 validation lines ({v}, {rg.stderr[-200:]!r})")
else:
    print(f"SKIP the Gemma smoke run: {GEMMA} not found")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
