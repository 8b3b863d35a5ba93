#!/usr/bin/env python3
"""make_adapter_fixture.py: the PEFT twin of hone's unmerged LoRA adapters (issues 4, 5, 7).

For each tiny random-weight HF model in tests/fixtures/engine/tiny-*/ (made by
make_engine_fixture.py), builds a random LoRA with PEFT (seeded; rank 4, lora_alpha 12 so
scale 3; on every linear projection q/k/v/o/gate/up/down of the LAST 2 layers), with A drawn
N(0, 1/in) and B N(0, 0.1^2) (B non-zero, so the adapter changes the output; not larger, so the
adapted model stays well conditioned and f32 rounding is not amplified past the 1e-4 bound), and writes under
tests/fixtures/adapter/NAME/:
  peft/  adapter_model.safetensors + adapter_config.json, as PEFT's save_pretrained writes them;
  mlx/   the same adapter in mlx-lm's layout, converted HERE (independently of hone's C code):
         adapters.safetensors with model.layers.N.<module>.lora_a = A^T (in, r) and
         .lora_b = B^T (r, out) (mlx-lm's LoRALinear: y = W x + scale * (x @ lora_a) @ lora_b),
         adapter_config.json {fine_tune_type, num_layers, lora_parameters {rank, scale,
         dropout, keys}};
  pP.hidden.f32 (T, hidden) final normed hidden states and pP.logits.f32 (vocab,) last-position
         logits, with the adapter applied, for the engine fixture's prompts (same ids);
  meta.json  ids per prompt, the scale, and how far the adapter moves the last logits
         (asserted > 0.1 so the fixture can tell an applied adapter from a missing one).

Run with the reference venv (torch, transformers, peft, safetensors):
  ~/.cache/hone/venv-ref/bin/python tests/ref/make_adapter_fixture.py
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
OUT = os.path.join(ROOT, "tests", "fixtures", "adapter")
MODELS = ["tiny-gemma3", "tiny-qwen2", "tiny-llama-rope3", "tiny-mistral"]
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FULL = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
        "o_proj": "self_attn.o_proj", "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj",
        "down_proj": "mlp.down_proj"}
RANK, ALPHA, N_LAST = 4, 12.0, 2


@torch.no_grad()
def main():
    from peft import LoraConfig, get_peft_model
    from safetensors.numpy import save_file
    from transformers import AutoModelForCausalLM

    for k, name in enumerate(MODELS):
        src = os.path.join(ENGINE, name)
        meta_in = json.load(open(os.path.join(src, "meta.json")))
        base = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32, attn_implementation="eager")
        base.eval()
        n_layers = base.config.num_hidden_layers
        layers = list(range(n_layers - N_LAST, n_layers))
        cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=MODULES, layers_to_transform=layers,
                         lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(base, cfg)
        model.eval()
        g = torch.Generator().manual_seed(3000 + k)
        tensors = {}
        for pname, p in model.named_parameters():
            if ".lora_A." in pname:  # (r, in): N(0, 1/in), the size of mlx-lm's U(+-1/sqrt(in)) init
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            elif ".lora_B." in pname:  # (out, r): as if trained a while; scale 3 * B A then moves the
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)  # logits by several units, not chaotically
        out_dir = os.path.join(OUT, name)
        os.makedirs(os.path.join(out_dir, "peft"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "mlx"), exist_ok=True)
        model.save_pretrained(os.path.join(out_dir, "peft"))
        # drop the README PEFT writes (large boilerplate, not part of the format)
        readme = os.path.join(out_dir, "peft", "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        pcfg = json.load(open(os.path.join(out_dir, "peft", "adapter_config.json")))
        pcfg["base_model_name_or_path"] = "tests/fixtures/engine/" + name
        pcfg["target_modules"] = sorted(pcfg["target_modules"])  # a set in PEFT: fix the order
        json.dump(pcfg, open(os.path.join(out_dir, "peft", "adapter_config.json"), "w"), indent=2, sort_keys=True)

        # MLX layout, from the PEFT tensors
        from safetensors.numpy import load_file
        peft_t = load_file(os.path.join(out_dir, "peft", "adapter_model.safetensors"))
        for tname, arr in peft_t.items():
            assert tname.startswith("base_model.model.model.layers."), tname
            rest = tname[len("base_model.model."):]
            if rest.endswith(".lora_A.weight"):
                tensors[rest[:-len(".lora_A.weight")] + ".lora_a"] = np.ascontiguousarray(arr.T)
            elif rest.endswith(".lora_B.weight"):
                tensors[rest[:-len(".lora_B.weight")] + ".lora_b"] = np.ascontiguousarray(arr.T)
            else:
                raise SystemExit("unexpected PEFT tensor " + tname)
        save_file(tensors, os.path.join(out_dir, "mlx", "adapters.safetensors"))
        json.dump({"fine_tune_type": "lora", "num_layers": N_LAST,
                   "lora_parameters": {"rank": RANK, "scale": ALPHA / RANK, "dropout": 0.0,
                                       "keys": [FULL[m] for m in MODULES]}},
                  open(os.path.join(out_dir, "mlx", "adapter_config.json"), "w"), indent=4)

        prompts = []
        moved = 0.0
        for i, p in enumerate(meta_in["prompts"]):
            ids = torch.tensor([p["ids"]])
            out = model(ids, output_hidden_states=True)
            hidden = out.hidden_states[-1][0].float().numpy()
            logits = out.logits[0, -1].float().numpy()
            with model.disable_adapter():
                base_logits = model(ids).logits[0, -1].float().numpy()
            moved = max(moved, float(np.abs(logits - base_logits).max()))
            hidden.astype("<f4").tofile(os.path.join(out_dir, f"p{i}.hidden.f32"))
            logits.astype("<f4").tofile(os.path.join(out_dir, f"p{i}.logits.f32"))
            prompts.append({"ids": p["ids"], "T": len(p["ids"]), "hidden_file": f"p{i}.hidden.f32",
                            "logits_file": f"p{i}.logits.f32"})
        assert moved > 0.1, (name, moved)
        import peft
        import transformers
        json.dump({"model_dir": name, "rank": RANK, "lora_alpha": ALPHA, "scale": ALPHA / RANK,
                   "layers": layers, "modules": MODULES, "seed": 3000 + k,
                   "max_abs_logit_change_vs_base": moved,
                   "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                "peft": peft.__version__},
                   "prompts": prompts}, open(os.path.join(out_dir, "meta.json"), "w"), indent=1)
        print(f"{name}: layers {layers}, adapter moves last logits by up to {moved:.3f}")


if __name__ == "__main__":
    main()
