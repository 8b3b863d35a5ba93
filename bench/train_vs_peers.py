#!/usr/bin/env python3
"""train_vs_peers.py: LoRA training step speed of hone vs mlx-lm (CPU) and PEFT +
transformers (CPU) on Gemma 3 270M, side by side in one run (issue 5, item 6).

  ~/.cache/hone/venv-ref/bin/python bench/train_vs_peers.py [MODELS_DIR] [STEPS]
      [--mlx-steps N] [--peft-steps N] [--sides hone,hone-q4,peft,mlx] [--json-out FILE]

(--mlx-steps: mlx-lm takes minutes per step on CPU; fewer timed steps for it are said in
the output, which gives each side's number of timed steps, and the 1-minute load average
at its start and end. hone's GFLOP/s counts the useful work of the step, see
hone_step_gflop; % of peak against --peak GFLOP/s per core.)

Setting (the same on every side): one example of 512 token ids (seeded random ids),
the first half masked as the prompt (mlx-lm --mask-prompt: loss on the last 255
positions), batch 1, LoRA rank 8, scale 20, dropout 0, on q/k/v/o/gate/up/down of the
last 8 blocks (--num-layers 8), one forward + backward + Adam update per step
(hone: forward + backward; its optimizer is the train-loop's, a few us for ~1.5 M
parameters). One warm-up step, then STEPS (3) timed steps; the median is reported, as
trained tokens/s = 512 / step seconds, with the process CPU seconds per step (all
threads; on a shared machine the ratio of CPU times is the contention-free comparison)
and each side's peak RSS. Threads: all cores (this machine: 2).

Weights: the Q4_K_M GGUF is turned into an HF folder once by transformers (gguf_file=,
dequantized to float32, save_pretrained to ~/.cache/hone/gemma-3-270m-hf, outside the
repo), so mlx-lm, PEFT and hone all train on the same float32 weights; hone also runs on
the Q4_K_M GGUF itself (QLoRA). hone runs twice per base: with the frozen prefix cached
(every epoch after the first; the example is the same each step) and without (the
first epoch).
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
HOME = os.path.expanduser("~/.cache/hone")
HF_DIR = os.path.join(HOME, "gemma-3-270m-hf")
T, NUM_LAYERS, RANK, SCALE = 512, 8, 8, 20.0
KEYS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def tokens(vocab):
    s, out = 12345, []
    for _ in range(T):  # the same LCG as tests/tools/train_bench.c
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((s >> 33) % (vocab - 10) + 5)
    return out


def make_hf(gguf_dir):
    if os.path.exists(os.path.join(HF_DIR, "config.json")):
        return
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    src = os.path.join(gguf_dir, "gemma-3-270m-q4_k_m.gguf")
    m = AutoModelForCausalLM.from_pretrained(os.path.dirname(src), gguf_file=os.path.basename(src),
                                             dtype=torch.float32)
    # save_pretrained refuses a model loaded from GGUF (it counts as quantized): write the
    # float32 tensors and the config ourselves (tied embeddings: no lm_head.weight)
    from safetensors.torch import save_file
    os.makedirs(HF_DIR, exist_ok=True)
    sd = {k: v.detach().contiguous() for k, v in m.state_dict().items()
          if not (k == "lm_head.weight" and m.config.tie_word_embeddings)}
    save_file(sd, os.path.join(HF_DIR, "model.safetensors"), metadata={"format": "pt"})
    cfg = m.config.to_dict()
    cfg.pop("quantization_config", None)
    cfg["dtype"] = "float32"
    cfg["architectures"] = ["Gemma3ForCausalLM"]
    json.dump(cfg, open(os.path.join(HF_DIR, "config.json"), "w"), indent=1)
    AutoTokenizer.from_pretrained(os.path.dirname(src), gguf_file=os.path.basename(src)).save_pretrained(HF_DIR)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_mlx(steps):
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from pathlib import Path
    from mlx_lm.tuner.trainer import default_loss
    from mlx_lm.tuner.utils import linear_to_lora_layers
    from mlx_lm.utils import load_model
    model, cfg = load_model(Path(HF_DIR))
    model.freeze()
    linear_to_lora_layers(model, NUM_LAYERS, {"rank": RANK, "scale": SCALE, "dropout": 0.0, "keys": KEYS})
    vocab = cfg.get("vocab_size") or cfg["text_config"]["vocab_size"]
    ids = tokens(vocab)
    batch = mx.array([ids + [ids[-1]]])  # inputs = batch[:, :-1] = ids, targets = batch[:, 1:]
    lengths = mx.array([[T // 2 + 1, T - 1]])  # supervised target steps T/2+1 .. T-1: 255 positions
    opt = optim.Adam(learning_rate=1e-5)
    loss_and_grad = nn.value_and_grad(model, default_loss)
    times, cpu = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        (loss, ntoks), grad = loss_and_grad(model, batch, lengths)
        opt.update(model, grad)
        mx.eval(model.parameters(), opt.state, loss)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i:
            times.append(dt)
            cpu.append(dc)
        print(f"  mlx step {i}: {dt:.2f} s ({dc:.2f} s CPU), loss {loss.item():.4f} over {ntoks.item()} tokens",
              file=sys.stderr, flush=True)
    return times, cpu


def run_peft(steps):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(os.cpu_count())
    base = AutoModelForCausalLM.from_pretrained(HF_DIR, dtype=torch.float32, attn_implementation="eager")
    n = base.config.num_hidden_layers
    cfg = LoraConfig(r=RANK, lora_alpha=SCALE * RANK, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                     target_modules=[k.split(".")[1] for k in KEYS], layers_to_transform=list(range(n - NUM_LAYERS, n)))
    model = get_peft_model(base, cfg)
    model.train()
    ids = tokens(base.config.vocab_size)
    x = torch.tensor([ids])
    labels = torch.tensor([[-100] * (T // 2 + 1) + ids[T // 2 + 1:]])  # HF shifts: position t predicts labels[t+1]
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    times, cpu = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=x, labels=labels)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i:
            times.append(dt)
            cpu.append(dc)
        print(f"  peft step {i}: {dt:.2f} s ({dc:.2f} s CPU), loss {out.loss.item():.4f}", file=sys.stderr, flush=True)
    return times, cpu


def run_hone(model, steps, cache):
    exe = os.path.join(ROOT, "build", "tools", "train_bench")
    out = subprocess.run([exe, model, str(T), str(NUM_LAYERS), str(steps), "fast", str(RANK),
                          "cache" if cache else "nocache"], check=True, capture_output=True, text=True).stdout
    times, cpu, rss = [], [], None
    for line in out.splitlines():
        if line.startswith("step ") and "warm-up" not in line:
            times.append(float(line.split(": ")[1].split(" s")[0]))
            cpu.append(float(line.split("(")[1].split(" s CPU")[0]))
        if line.startswith("peak RSS"):
            rss = float(line.split()[2])
    sys.stderr.write(out)
    return times, cpu, rss


def hone_step_gflop(cfg, n_sup):
    """Useful FLOPs of hone's step (T tokens, n_sup supervised, the last NUM_LAYERS blocks
    adapted, rank RANK): the adapted blocks' linears forward (2 P T) and their input-gradient
    backward (2 P T, less q/k/v of the lowest adapted block: nothing below needs it),
    attention causal forward (QK^T and AV: 2 T^2 H hd) and backward (2.5x: dQ, dK, dV, dP),
    the LM head at the supervised rows forward and its d hidden (2 x 2 n_sup V D), and the
    adapters (forward, dA, dB, dx: ~8 r (in + out) T per projection). Frozen prefix excluded
    (cached or not, it is the same work for every side and small: 2 P T per block)."""
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or D // H
    shapes = {"q": (D, H * hd), "k": (D, KV * hd), "v": (D, KV * hd), "o": (H * hd, D),
              "gate": (D, F), "up": (D, F), "down": (F, D)}
    P = sum(i * o for i, o in shapes.values())
    P_qkv = sum(shapes[k][0] * shapes[k][1] for k in ("q", "k", "v"))
    lin = 2 * P * T * NUM_LAYERS + 2 * (P * NUM_LAYERS - P_qkv) * T
    att_f = 2 * T * T * H * hd * NUM_LAYERS  # causal: half of 2 x 2 T^2 H hd
    att = att_f * 3.5
    head = 2 * 2 * n_sup * V * D
    lora = 8 * RANK * sum(i + o for i, o in shapes.values()) * T * NUM_LAYERS
    return (lin + att + head + lora) / 1e9


def main():
    import argparse
    if len(sys.argv) > 1 and sys.argv[1] in ("--mlx", "--peft"):
        steps = int(sys.argv[2])
        times, cpu = run_mlx(steps) if sys.argv[1] == "--mlx" else run_peft(steps)
        print(json.dumps({"times": times, "cpu": cpu, "rss": peak_rss_mib()}))
        return
    ap = argparse.ArgumentParser(description="LoRA step speed: hone vs mlx-lm vs PEFT, side by side")
    ap.add_argument("models", nargs="?", default=os.path.join(ROOT, "models"), help="folder with the Gemma GGUF")
    ap.add_argument("steps", nargs="?", type=int, default=3, help="timed steps per side after one warm-up [3]")
    ap.add_argument("--mlx-steps", type=int, help="timed steps for mlx-lm (minutes each on CPU) [STEPS]")
    ap.add_argument("--peft-steps", type=int, help="timed steps for PEFT [STEPS]")
    ap.add_argument("--sides", default="hone,peft,mlx", help="comma list of hone,hone-q4,peft,mlx [hone,peft,mlx]")
    ap.add_argument("--peak", type=float, default=185.0, help="f32 FMA peak GFLOP/s per core [185, measured]")
    ap.add_argument("--json-out", help="append each side's result to this JSON-lines file as it finishes")
    a = ap.parse_args()
    sides = a.sides.split(",")
    gguf = os.path.join(a.models, "gemma-3-270m-q4_k_m.gguf")
    make_hf(a.models)
    cfg = json.load(open(os.path.join(HF_DIR, "config.json")))
    cfg = cfg.get("text_config", cfg)
    gflop = hone_step_gflop(cfg, T // 2 - 1)
    ncpu = os.cpu_count()
    print(f"machine: {ncpu} CPUs, {os.uname().release}; hone's useful work per step {gflop:.1f} GFLOP; "
          f"f32 peak {a.peak:.0f} GFLOP/s per core", flush=True)
    plan = []
    if "hone" in sides:
        plan += [("hone f32 (HF), prefix cached", None), ("hone f32 (HF), no cache", None)]
    if "hone-q4" in sides or "hone" in sides:
        plan += [("hone Q4_K_M GGUF, prefix cached", None), ("hone Q4_K_M GGUF, no cache", None)]
    if "peft" in sides:
        plan.append(("PEFT + transformers f32", [sys.executable, __file__, "--peft", str(a.peft_steps or a.steps)]))
    if "mlx" in sides:
        plan.append(("mlx-lm f32 (CPU)", [os.path.join(HOME, "venv-mlx", "bin", "python"), __file__, "--mlx",
                                          str(a.mlx_steps or a.steps)]))
    rows = []
    for name, cmd in plan:
        t0, la0 = time.time(), os.getloadavg()
        if cmd is None:
            model = HF_DIR if "HF" in name else gguf
            times, cpu, rss = run_hone(model, a.steps, "no cache" not in name)
        else:
            r = subprocess.run(cmd, check=True, capture_output=True, text=True)
            sys.stderr.write(r.stderr[-2000:])
            res = json.loads(r.stdout.strip().splitlines()[-1])
            times, cpu, rss = res["times"], res["cpu"], res["rss"]
        la1 = os.getloadavg()
        med, cmed = statistics.median(times), statistics.median(cpu)
        row = {"side": name, "steps": len(times), "median_s": med, "tokens_per_s": T / med, "cpu_s": cmed,
               "rss_mib": rss, "times": times, "cpu": cpu, "load_start": la0, "load_end": la1,
               "elapsed_s": time.time() - t0, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        rows.append(row)
        if a.json_out:
            with open(a.json_out, "a") as f:
                f.write(json.dumps(row) + "\n")
        print(f"{name}: median of {len(times)} steps {med:.2f} s = {T / med:.1f} tokens/s ({cmed:.2f} s CPU per "
              f"step), peak RSS {rss:.0f} MiB, load average {la0[0]:.2f} -> {la1[0]:.2f} "
              f"({time.time() - t0:.0f} s)", flush=True)
    print("\n| side | timed steps | median step (s) | tokens/s | CPU s per step | peak RSS (MiB) | load avg (1 min) |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['side']} | {r['steps']} | {r['median_s']:.2f} | {r['tokens_per_s']:.1f} | {r['cpu_s']:.2f} | "
              f"{r['rss_mib']:.0f} | {r['load_start'][0]:.1f} -> {r['load_end'][0]:.1f} |")
    by = {r["side"]: r for r in rows}
    for r in rows:
        if not r["side"].startswith("hone"):
            continue
        gw, gc = gflop / r["median_s"], gflop / r["cpu_s"]
        line = (f"{r['side']}: {gw:.1f} GFLOP/s wall ({100 * gw / (a.peak * ncpu):.0f} % of the {ncpu}-core f32 peak), "
                f"{gc:.1f} GFLOP per CPU-second ({100 * gc / a.peak:.0f} % of one core's)")
        for peer in ("mlx-lm f32 (CPU)", "PEFT + transformers f32"):
            if peer in by:
                line += (f"; vs {peer.split()[0]}: {by[peer]['median_s'] / r['median_s']:.1f}x tokens/s, "
                         f"{by[peer]['cpu_s'] / r['cpu_s']:.1f}x by CPU time")
        print(line)


if __name__ == "__main__":
    main()
