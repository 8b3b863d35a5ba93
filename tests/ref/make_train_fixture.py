#!/usr/bin/env python3
"""make_train_fixture.py: the PyTorch + PEFT twin of hone's LoRA training step (issue 5).

For three tiny random-weight HF models of tests/fixtures/engine/ (tiny-gemma3, tiny-llama-rope3,
tiny-qwen2; made by make_engine_fixture.py), attaches a PEFT LoRA (rank 4, lora_alpha 8: scale 2,
no dropout) on SOME projections of SOME layers (never the lowest layer, so hone's "no backward
below the lowest adapted block" is exercised; gemma3's lowest adapted block has MLP adapters
only), with A ~ N(0, 1/in) and B ~ N(0, 0.1^2) (B non-zero so dA is non-zero), runs one padded
batch of 2 sequences of different lengths (right padding, attention_mask 0 on padding) with
masked targets (-100: a prompt prefix, the last position and the padding), and writes

  tests/fixtures/train/NAME.safetensors
     tokens (2, S) I32, targets (2, S) I32 (-100 = not supervised), lengths (2) I32,
     for each adapted projection P = "L.MODULE" (e.g. "4.q_proj"), all F32:
       P.A (r, in), P.B (out, r)           the adapter of the gradient check
       P.dA (r, in), P.dB (out, r)         d(SUMMED loss)/dA, /dB at that adapter
       P.A_final, P.B_final                after the 20-step trajectory below
  tests/fixtures/train/NAME.json            model dir, rank, scale, adapted list, loss_sum,
                                            n_tokens, and the trajectory (lr, betas, eps, losses)

Precision: the model and the adapter run in float64 (model.double()), so the fixture is the
exact answer up to ~1e-15 (transformers' RMSNorm and RoPE angles still round through float32, as
hone's own f32 math does) and the C test's tolerance measures hone's f32 error alone instead of
the sum of two f32 errors. Stored values are rounded to f32 (relative 6e-8).

Trajectory: same model and batch, A = the fixture's A, B = 0, 20 steps of Adam with mlx-lm's
semantics (no bias correction: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
p -= lr m / (sqrt(v) + eps)), b1 .9, b2 .999, eps 1e-8, lr 1e-3, on the gradient of the MEAN
loss (summed CE / supervised tokens, as mlx-lm's default loss). (lr 1e-2 makes Adam's
sign-like update flip on gradient entries near zero, so f32 and f64 runs part by 1e-3 within
20 steps on the llama model: a property of Adam, not of either implementation.) losses[i] is the mean loss of step i BEFORE its update.

Run with the reference venv (torch, transformers, peft, safetensors), NOT part of make test:
  ~/.cache/hone/venv-ref/bin/python tests/ref/make_train_fixture.py
"""
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)
assert sys.byteorder == "little"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENGINE = os.path.join(ROOT, "tests", "fixtures", "engine")
OUT = os.path.join(ROOT, "tests", "fixtures", "train")
RANK, ALPHA = 4, 8.0
LR, B1, B2, EPS, STEPS = 1e-3, 0.9, 0.999, 1e-8, 20
FULL = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
# model -> {layer: [modules]}; never layer 0
MODELS = {
    "tiny-gemma3": {2: ["up_proj", "down_proj"], 4: ["q_proj", "k_proj", "v_proj", "o_proj"],
                    5: ["gate_proj", "up_proj", "down_proj"]},
    "tiny-llama-rope3": {1: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"]},
    "tiny-qwen2": {1: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
}
S, LENS, PROMPT = 13, [13, 9], [3, 2]  # gemma3's sliding window is 8 < 13: it matters


def batch(vocab, seed):
    g = np.random.default_rng(seed)
    tokens = np.zeros((2, S), np.int32)  # padding id 0
    targets = np.full((2, S), -100, np.int32)
    for s in range(2):
        n = LENS[s]
        tokens[s, :n] = g.integers(1, vocab, n)
        for t in range(PROMPT[s], n - 1):
            targets[s, t] = tokens[s, t + 1]
    return tokens, targets


def loss_sum(model, tokens, targets, lengths):
    ids = torch.tensor(tokens, dtype=torch.long)
    am = torch.zeros_like(ids)
    for s, n in enumerate(lengths):
        am[s, :n] = 1
    logits = model(input_ids=ids, attention_mask=am).logits  # (2, S, V) float64
    tg = torch.tensor(targets, dtype=torch.long)
    keep = tg >= 0
    lp = torch.log_softmax(logits, dim=-1)
    picked = lp.gather(-1, tg.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -(picked * keep).sum(), int(keep.sum())


def make(name, plan, k):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    src = os.path.join(ENGINE, name)
    base = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32, attn_implementation="eager")
    base = base.double().eval()
    alts = "|".join(f"{l}\\.{FULL[m]}\\.{m}" for l, ms in plan.items() for m in ms)
    cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=f".*model\\.layers\\.({alts})",
                     lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg).double()
    model.eval()
    g = torch.Generator().manual_seed(5000 + k)
    params = {}
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if ".lora_A." in pname or ".lora_B." in pname:
                l = int(pname.split(".layers.")[1].split(".")[0])
                mod = pname.split(".lora_")[0].split(".")[-1]
                ab = "A" if ".lora_A." in pname else "B"
                if ab == "A":
                    p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[1] ** 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.1)
                params[(l, mod, ab)] = p
    want = {(l, m) for l, ms in plan.items() for m in ms}
    assert {(l, m) for (l, m, _) in params} == want, (name, sorted(params))
    # round A, B to f32 first: hone reads the f32 values
    with torch.no_grad():
        for p in params.values():
            p.copy_(p.float().double())
    vocab = base.config.vocab_size
    tokens, targets = batch(vocab, 7000 + k)
    loss, n = loss_sum(model, tokens, targets, LENS)
    loss.backward()
    out = {"tokens": tokens, "targets": targets, "lengths": np.array(LENS, np.int32)}
    adapted = []
    for (l, m) in sorted(want, key=lambda x: (x[0], list(FULL).index(x[1]))):
        P = f"{l}.{m}"
        adapted.append(P)
        for ab in "AB":
            p = params[(l, m, ab)]
            out[f"{P}.{ab}"] = p.detach().float().numpy()
            out[f"{P}.d{ab}"] = p.grad.detach().float().numpy()
            assert float(p.grad.abs().max()) > 0, (name, P, ab)
    a0 = {key: p.detach().clone() for key, p in params.items()}

    # trajectory: A from the fixture, B = 0, mlx-lm Adam on the mean loss
    with torch.no_grad():
        for (l, m, ab), p in params.items():
            p.copy_(a0[(l, m, ab)] if ab == "A" else torch.zeros_like(p))
    st = {key: (torch.zeros_like(p), torch.zeros_like(p)) for key, p in params.items()}
    losses = []
    for step in range(STEPS):
        for p in params.values():
            p.grad = None
        ls, n2 = loss_sum(model, tokens, targets, LENS)
        (ls / n2).backward()
        losses.append(float(ls) / n2)
        with torch.no_grad():
            for key, p in params.items():
                mm, vv = st[key]
                mm.mul_(B1).add_((1 - B1) * p.grad)
                vv.mul_(B2).add_((1 - B2) * p.grad * p.grad)
                p.sub_(LR * mm / (vv.sqrt() + EPS))
    for (l, m, ab), p in params.items():
        out[f"{l}.{m}.{ab}_final"] = p.detach().float().numpy()

    from safetensors.numpy import save_file
    import peft
    import transformers
    os.makedirs(OUT, exist_ok=True)
    save_file({k2: np.ascontiguousarray(v) for k2, v in out.items()}, os.path.join(OUT, name + ".safetensors"))
    meta = {"model_dir": "tests/fixtures/engine/" + name, "rank": RANK, "lora_alpha": ALPHA,
            "scale": ALPHA / RANK, "adapted": adapted, "seq_len": S, "lengths": LENS,
            "loss_sum": float(loss), "n_tokens": n, "precision": "float64 (stored as f32)",
            "trajectory": {"steps": STEPS, "lr": LR, "beta1": B1, "beta2": B2, "eps": EPS,
                           "bias_correction": False, "loss": "mean over supervised tokens",
                           "init": "A = fixture A, B = 0", "losses": losses},
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__}}
    json.dump(meta, open(os.path.join(OUT, name + ".json"), "w"), indent=1)
    print(f"{name}: adapted {adapted}; loss_sum {float(loss):.6f} over {n} tokens; "
          f"trajectory {losses[0]:.5f} -> {losses[-1]:.5f}")


def main():
    for k, (name, plan) in enumerate(MODELS.items()):
        make(name, plan, k)


if __name__ == "__main__":
    main()
