#!/usr/bin/env python3
"""check_adapter_mlx.py: mlx-lm (the seed workflow's own loader) reads hone's MLX adapters.

For each tiny fixture model: `build/hone export-adapter` converts the PEFT adapter of
tests/fixtures/adapter/NAME/peft to mlx-lm's layout in a temporary folder; mlx-lm loads the
HF base (mlx_lm.utils.load_model) and that adapter (mlx_lm.tuner.utils.load_adapters) and its
last-position logits must equal PEFT's (the fixture) within rel L2 1e-4 (f32, a third
implementation's summation order). A model whose BASE logits already differ from
transformers' in mlx-lm (> 1e-4; tiny-mistral: mlx-lm's model ignores the sliding window) is
reported and skipped, not counted. Exits non-zero on a mismatch.

Needs mlx[cpu] + mlx-lm (a venv of its own, e.g. ~/.cache/hone/venv-mlx) and a built hone:
  ~/.cache/hone/venv-mlx/bin/python tests/ref/check_adapter_mlx.py
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx_lm.tuner.utils import load_adapters
from mlx_lm.utils import load_model

ROOT = Path(__file__).resolve().parents[2]


def worst(model, ref_dir, meta):
    w = 0.0
    for i, p in enumerate(meta["prompts"]):
        logits = np.array(model(mx.array([p["ids"]]))[0, -1].astype(mx.float32))
        ref = np.fromfile(ref_dir / f"p{i}.logits.f32", dtype="<f4")
        w = max(w, float(np.linalg.norm(logits - ref) / np.linalg.norm(ref)))
    return w


def main():
    bad = 0
    for name in ["tiny-gemma3", "tiny-qwen2", "tiny-llama-rope3", "tiny-mistral"]:
        adir = ROOT / "tests/fixtures/adapter" / name
        meta = json.load(open(adir / "meta.json"))
        model, _ = load_model(ROOT / "tests/fixtures/engine" / name)
        base = worst(model, ROOT / "tests/fixtures/engine" / name, meta)
        if base > 1e-4:
            print(f"{name}: SKIP, mlx-lm's base model differs from transformers' (rel L2 {base:.2e})")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mlx"
            subprocess.run([str(ROOT / "build/hone"), "export-adapter", "--adapter-path", str(adir / "peft"),
                            "--format", "mlx", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            model = load_adapters(model, str(out))
            e = worst(model, adir, meta)
        ok = e <= 1e-4
        bad += not ok
        print(f"{name}: mlx-lm + hone's MLX export vs PEFT: last logits rel L2 {e:.2e} "
              f"(base vs transformers {base:.2e}) {'ok' if ok else 'MISMATCH'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
