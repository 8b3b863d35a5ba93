#!/usr/bin/env python3
"""Writes tests/fixtures/trainloop/optim_mlx.json: mlx's own optimizer updates, learning-rate
schedules (through mlx-lm's build_schedule, warm-up included) and clip_grad_norm, for
src/train/optim.c (compared by tests/unit/test_train_optim.c).

Runs with the mlx venv (mlx[cpu] + mlx-lm; the C tests only read the committed JSON):
  ~/.cache/hone/venv-mlx/bin/python tests/ref/make_optim_fixture.py
"""
import json, os
import numpy as np
import mlx.core as mx
import mlx.optimizers as optim
from mlx_lm.tuner.utils import build_schedule
import mlx_lm

rng = np.random.default_rng(20261127)
out = {"versions": {"mlx": mx.__version__, "mlx_lm": mlx_lm.__version__}, "optim": [], "sched": [], "clip": []}

SIZES = [7, 3]
STEPS = 6
CASES = [
    ("adam", {}, 1e-2),
    ("adam", {"bias_correction": True}, 1e-2),
    ("adam", {"betas": [0.8, 0.99], "eps": 1e-6}, 3e-3),
    ("adamw", {}, 1e-2),
    ("adamw", {"weight_decay": 0.1, "bias_correction": True}, 1e-2),
    ("sgd", {}, 1e-1),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.01}, 1e-1),
    ("sgd", {"momentum": 0.9, "dampening": 0.5}, 1e-1),
    ("sgd", {"momentum": 0.9, "nesterov": True}, 1e-1),
    ("adam", {"schedule": {"name": "cosine_decay", "arguments": [1e-2, 4], "warmup": 2, "warmup_init": 1e-4}}, None),
]
CLS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD}
for name, cfg, lr in CASES:
    cfg = dict(cfg)
    sched = cfg.pop("schedule", None)
    lrv = build_schedule(sched) if sched else lr
    opt = CLS[name](learning_rate=lrv, **cfg)
    params = {f"p{i}": mx.array(rng.standard_normal(n).astype(np.float32)) for i, n in enumerate(SIZES)}
    init = {k: np.array(v).tolist() for k, v in params.items()}
    grads_all, after, lrs = [], [], []
    for s in range(STEPS):
        g = {f"p{i}": mx.array(rng.standard_normal(n).astype(np.float32)) for i, n in enumerate(SIZES)}
        params = opt.apply_gradients(g, params)
        mx.eval(params)
        grads_all.append({k: np.array(v).tolist() for k, v in g.items()})
        after.append({k: np.array(v).tolist() for k, v in params.items()})
        lrs.append(float(opt.learning_rate.item()))
    out["optim"].append({"optimizer": name, "config": cfg, "lr": lr, "schedule": sched,
                         "init": init, "grads": grads_all, "after": after, "lr_used": lrs})

SCHEDS = [
    {"name": "cosine_decay", "arguments": [1e-5, 100]},
    {"name": "cosine_decay", "arguments": [1e-4, 50, 1e-6], "warmup": 10},
    {"name": "cosine_decay", "arguments": [2e-4, 30], "warmup": 5, "warmup_init": 1e-7},
    {"name": "linear_schedule", "arguments": [1e-3, 1e-5, 40]},
    {"name": "linear_schedule", "arguments": [0.0, 1e-3, 20], "warmup": 3, "warmup_init": 0.0},
    {"name": "exponential_decay", "arguments": [1e-3, 0.9]},
    {"name": "step_decay", "arguments": [1e-3, 0.5, 7]},
]
for sc in SCHEDS:
    f = build_schedule(sc)
    vals = [float(f(mx.array(s)).item()) for s in range(0, 121)]
    out["sched"].append({"schedule": sc, "values": vals})

for max_norm in [0.5, 100.0]:
    g = {f"p{i}": mx.array(rng.standard_normal(n).astype(np.float32)) for i, n in enumerate(SIZES)}
    c, norm = optim.clip_grad_norm(g, max_norm)
    out["clip"].append({"max_norm": max_norm, "grads": {k: np.array(v).tolist() for k, v in g.items()},
                        "clipped": {k: np.array(v).tolist() for k, v in c.items()}, "norm": float(norm.item())})

# mlx-lm's defaults (lora.py CONFIG_DEFAULTS) and the optimizers' constructor defaults
from mlx_lm import lora as mlx_lora
import inspect
out["config_defaults"] = {k: v for k, v in mlx_lora.CONFIG_DEFAULTS.items() if isinstance(v, (int, float, str, bool, dict)) or v is None}
out["optimizer_defaults"] = {n: {k: (list(p.default) if isinstance(p.default, (list, tuple)) else p.default)
                                 for k, p in inspect.signature(c.__init__).parameters.items()
                                 if p.default is not inspect.Parameter.empty}
                             for n, c in CLS.items()}

path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "trainloop", "optim_mlx.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=None, separators=(",", ":"))
    fh.write("\n")
print("wrote", path)
