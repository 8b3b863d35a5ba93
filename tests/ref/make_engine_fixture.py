#!/usr/bin/env python3
"""make_engine_fixture.py: the transformers twin of the inference engine (issue 4).

Writes, under tests/fixtures/engine/ (layout: tests/fixtures/engine/README.md):
  real models  gemma3-270m/, smollm2-135m/: transformers loads each GGUF with gguf_file=
               (dequantized to float32, eager attention) and runs 5 prompts given as token ids
               (tokenized by transformers' tokenizer from the same GGUF, BOS as it adds it);
  tiny models  tiny-qwen2/, tiny-llama-rope3/, tiny-gemma3/, tiny-mistral/: random-weight
               models built here (seeded, float32), saved as HF folders (config.json +
               model.safetensors) and run on 3 prompts of random ids.
For each prompt P: pP.hidden.f32 (T, hidden) final normed hidden states (LM-head input),
pP.logits.f32 (vocab,) logits of the last position, and an entry in meta.json (ids, top-1 at
every position, top-5 ids and logits at every position).

Needs torch, transformers (+ accelerate, gguf for gguf_file=), numpy, safetensors; keep them
out of the test venv (e.g. ~/.cache/hone/venv-ref). Never downloads anything.

  python tests/ref/make_engine_fixture.py [--models DIR (default $HONE_MODELS)]
         [--out tests/fixtures/engine] [--only real|tiny|ppl]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engine_prompts  # noqa: E402

torch.set_num_threads(1)
assert sys.byteorder == "little"

REAL = [
    # (NAME, GGUF file, arch used for the chat prompt)
    ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma3"),
    ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "llama"),
]


def versions():
    import transformers
    return {"transformers": transformers.__version__, "torch": torch.__version__,
            "numpy": np.__version__}


def lm_head_logits(model, hidden):
    """logits (n, vocab) from final normed hidden (n, D), exactly as the model's head does it."""
    logits = model.lm_head(hidden)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


@torch.no_grad()
def run_prompt(model, ids, outdir, tag):
    """Evaluates ids (list of int) in one forward pass; writes tag.hidden.f32 and
    tag.logits.f32; returns the meta entry."""
    x = torch.tensor([ids], dtype=torch.long)
    out = model(x, output_hidden_states=True, logits_to_keep=1)
    hidden = out.hidden_states[-1][0].float()  # (T, D): after the final norm (checked below)
    last = out.logits[0, -1].float()           # (vocab,)
    # The last hidden_states entry must be the LM-head input: hidden @ W^T == logits.
    again = lm_head_logits(model, hidden[-1:])[0]
    err = (again - last).abs().max().item()
    assert err <= 1e-5 * max(1.0, last.abs().max().item()), f"{tag}: hidden is not the LM-head input ({err})"
    top1, top5_ids, top5_logits = [], [], []
    for s in range(0, len(ids), 64):  # all-position logits in chunks, never (T, vocab) at once
        lg = lm_head_logits(model, hidden[s:s + 64])
        v, i = lg.topk(5, dim=-1)
        top1 += lg.argmax(dim=-1).tolist()
        top5_ids += i.tolist()
        top5_logits += [[float(f) for f in row] for row in v.tolist()]
    hidden.numpy().astype("<f4").tofile(os.path.join(outdir, tag + ".hidden.f32"))
    last.numpy().astype("<f4").tofile(os.path.join(outdir, tag + ".logits.f32"))
    return {"ids": list(map(int, ids)), "T": len(ids), "top1": top1, "top5_ids": top5_ids,
            "top5_logits": top5_logits, "hidden_file": tag + ".hidden.f32",
            "logits_file": tag + ".logits.f32"}


def make_real(models_dir, out_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    for name, fname, arch in REAL:
        path = os.path.join(models_dir, fname)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found")
            continue
        outdir = os.path.join(out_root, name)
        os.makedirs(outdir, exist_ok=True)
        tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=fname)
        model = AutoModelForCausalLM.from_pretrained(
            models_dir, gguf_file=fname, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        cfg = model.config
        meta = {"model_file": fname, "arch": arch, "model_type": cfg.model_type,
                "versions": versions(), "dtype": "float32 (GGUF dequantized by transformers)",
                "attn_implementation": "eager", "hidden_size": cfg.hidden_size,
                "vocab_size": cfg.vocab_size,
                "tied_embeddings": model.lm_head.weight.data_ptr() ==
                model.get_input_embeddings().weight.data_ptr(),
                "sliding_window": getattr(cfg, "sliding_window", None),
                "layer_types": getattr(cfg, "layer_types", None),
                "tokenizer": "transformers AutoTokenizer from the GGUF, add_special_tokens=True",
                "prompts": []}
        for p, (pname, text) in enumerate(engine_prompts.prompts(arch)):
            ids = tok(text, add_special_tokens=True).input_ids
            if pname == "long":
                assert len(ids) > 600, f"{name}: long prompt has only {len(ids)} tokens"
            e = run_prompt(model, ids, outdir, f"p{p}")
            e = {"name": pname, "text": text, **e}
            meta["prompts"].append(e)
            nxt = [tok.decode([i]) for i in e["top5_ids"][-1]]
            print(f"{name} p{p} {pname}: T={e['T']} next top5 {nxt} "
                  f"logits {[round(v, 2) for v in e['top5_logits'][-1]]}")
        with open(os.path.join(outdir, "meta.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
        del model


# ---- tiny random-weight models ------------------------------------------------------------

def tiny_configs():
    from transformers import Gemma3TextConfig, LlamaConfig, MistralConfig, Qwen2Config
    common = dict(vocab_size=512, hidden_size=64, rms_norm_eps=1e-6, bos_token_id=None,
                  eos_token_id=None, pad_token_id=None, max_position_embeddings=256)
    return [
        ("tiny-qwen2", Qwen2Config(
            **common, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, tie_word_embeddings=True, use_sliding_window=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
         [7, 33, 100]),
        ("tiny-llama-rope3", LlamaConfig(
            **common, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, head_dim=32, tie_word_embeddings=True,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 32}),
         [5, 40, 100]),
        ("tiny-gemma3", Gemma3TextConfig(
            **common, intermediate_size=32, num_hidden_layers=6, num_attention_heads=2,
            num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=24, sliding_window=8,
            layer_types=["sliding_attention"] * 5 + ["full_attention"],
            hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
            final_logit_softcapping=None, attn_logit_softcapping=None,
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
         [5, 13, 40]),
        ("tiny-mistral", MistralConfig(
            **common, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, sliding_window=8, tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
         [5, 13, 40]),
    ]


@torch.no_grad()
def init_tiny(model, gemma):
    """Weights large enough that every part of the network matters (HF's own init gives
    near-zero biases, unit norms and near-uniform logits, which would hide bugs)."""
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            if gemma:   # used as (1 + w)
                p.uniform_(-0.5, 0.5)
            else:
                p.uniform_(0.5, 1.5)
        elif name.endswith("bias"):
            p.normal_(0.0, 0.5)
        elif "embed_tokens" in name or "lm_head" in name:
            p.normal_(0.0, 0.4)
        else:          # (out, in) linear: variance preserving
            p.normal_(0.0, p.shape[1] ** -0.5)


def legacy_config(path):
    """transformers 5 writes rope settings as `rope_parameters`; HF model folders on the Hub
    (and hone's hfconfig.c) use the older keys: rope_theta, rope_scaling, and for Gemma 3
    rope_local_base_freq plus rope_scaling for the global layers. Rewrite config.json in that
    form (transformers 5 still reads it; make_tiny checks that it reads the same rope)."""
    with open(path, encoding="utf-8") as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    if "full_attention" in rp:      # gemma3: per layer type
        glob, loc = rp["full_attention"], rp["sliding_attention"]
        assert loc["rope_type"] == "default"
        c["rope_local_base_freq"] = loc["rope_theta"]
    else:
        glob = rp
    c["rope_theta"] = glob["rope_theta"]
    scaling = {k: v for k, v in glob.items() if k != "rope_theta"}
    c["rope_scaling"] = scaling if scaling.get("rope_type", "default") != "default" else None
    with open(path, "w", encoding="utf-8") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


@torch.no_grad()
def feature_effect(model, ids, change):
    """Max |logit difference| at the last position when config `change` (dict) is applied:
    shows that the fixture exercises the feature (a fixture blind to it could not fail)."""
    from transformers import AutoModelForCausalLM
    cfg = type(model.config).from_dict(model.config.to_dict())
    for k, v in change.items():
        setattr(cfg, k, v)
    other = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    other.load_state_dict(model.state_dict())
    other.eval()
    x = torch.tensor([ids])
    return (model(x).logits[0, -1] - other(x).logits[0, -1]).abs().max().item()


FEATURES = {  # name -> config change whose effect on the longest prompt must be visible
    "tiny-qwen2": None,  # biases: checked by zeroing them below
    "tiny-llama-rope3": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
    "tiny-gemma3": {"sliding_window": 4096},
    "tiny-mistral": {"sliding_window": None},
}


def make_tiny(out_root):
    from transformers import AutoModelForCausalLM
    for k, (name, cfg, lens) in enumerate(tiny_configs()):
        torch.manual_seed(1000 + k)
        outdir = os.path.join(out_root, name)
        os.makedirs(outdir, exist_ok=True)
        cfg.dtype = "float32"
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32,
                                                 attn_implementation="eager")
        init_tiny(model, cfg.model_type.startswith("gemma"))
        model.save_pretrained(outdir, safe_serialization=True)
        gc = os.path.join(outdir, "generation_config.json")
        if os.path.exists(gc):
            os.remove(gc)
        want_rope = json.loads(json.dumps(model.config.rope_parameters))
        legacy_config(os.path.join(outdir, "config.json"))
        # Reload from the saved folder so the fixture comes from exactly the files we ship,
        # and check transformers reads the legacy rope keys back as the rope we meant.
        state = {k: v.clone() for k, v in model.state_dict().items()}
        model = AutoModelForCausalLM.from_pretrained(outdir, dtype=torch.float32,
                                                     attn_implementation="eager")
        model.eval()
        got_rope = json.loads(json.dumps(model.config.rope_parameters))
        assert got_rope == want_rope, f"{name}: rope {got_rope} != {want_rope}"
        for key, v in model.state_dict().items():
            assert torch.equal(v, state[key]), f"{name}: {key} changed on reload"
        rng = np.random.default_rng(2000 + k)
        meta = {"model_dir": name, "model_type": cfg.model_type, "versions": versions(),
                "dtype": "float32", "attn_implementation": "eager",
                "hidden_size": cfg.hidden_size, "vocab_size": cfg.vocab_size,
                "tied_embeddings": bool(cfg.tie_word_embeddings),
                "sliding_window": getattr(cfg, "sliding_window", None),
                "layer_types": getattr(cfg, "layer_types", None),
                "seed_torch": 1000 + k, "seed_ids": 2000 + k, "prompts": []}
        for p, T in enumerate(lens):
            ids = rng.integers(0, cfg.vocab_size, size=T).tolist()
            e = run_prompt(model, ids, outdir, f"p{p}")
            meta["prompts"].append({"name": f"random{T}", **e})
            lg = np.fromfile(os.path.join(outdir, f"p{p}.logits.f32"), dtype="<f4")
            print(f"{name} p{p}: T={T} last logits std {lg.std():.3f} top1 {e['top1'][-1]}")
        longest = meta["prompts"][-1]["ids"]
        if FEATURES[name] is not None:
            eff = feature_effect(model, longest, FEATURES[name])
            what = f"config change {FEATURES[name]}"
        else:
            with torch.no_grad():
                x = torch.tensor([longest])
                ref = model(x).logits[0, -1].clone()
                saved = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("bias")}
                for k, v in model.named_parameters():
                    if k.endswith("bias"):
                        v.zero_()
                eff = (model(x).logits[0, -1] - ref).abs().max().item()
                model.load_state_dict(saved, strict=False)
            what = "zeroing the q/k/v biases"
        print(f"{name}: {what} moves the last logits by up to {eff:.3f}")
        assert eff > 0.1, f"{name}: the fixture does not exercise its feature"
        meta["feature_check"] = {"change": what, "max_abs_logit_change": eff}
        with open(os.path.join(outdir, "meta.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)


@torch.no_grad()
def make_ppl(models_dir, out_root, n_ctx=512):
    """The same perplexity rule as make_engine_llamacpp.py (llama.cpp's perplexity tool; the
    rule text is in ppl_llamacpp.json), on transformers' float32 logits and on llama.cpp's
    token ids from ppl_llamacpp.json (so only the forward differs). Writes
    ppl_transformers.json: how far an exact f32 forward of the dequantized weights is from
    llama.cpp's own (quantized-activation) numbers."""
    from transformers import AutoModelForCausalLM
    with open(os.path.join(out_root, "ppl_llamacpp.json"), encoding="utf-8") as f:
        ref = json.load(f)
    res = {"versions": versions(), "n_ctx": n_ctx, "ids_from": "ppl_llamacpp.json (llama.cpp tokenizer)",
           "models": {}}
    for name, fname, arch in REAL:
        r = ref["models"].get(name)
        path = os.path.join(models_dir, fname)
        if r is None or not os.path.exists(path):
            print(f"skip ppl {name}")
            continue
        tokens = r["tokens"]
        model = AutoModelForCausalLM.from_pretrained(
            models_dir, gguf_file=fname, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        first = n_ctx // 2
        chunks, nll, count = [], 0.0, 0
        for i in range(len(tokens) // n_ctx):
            seq = tokens[i * n_ctx:(i + 1) * n_ctx]
            if r["add_bos"]:
                seq = [r["bos"]] + seq[1:]
            hidden = model.model(torch.tensor([seq])).last_hidden_state[0, first:n_ctx - 1]
            lg = lm_head_logits(model, hidden).double()
            tgt = torch.tensor(tokens[i * n_ctx + first + 1:(i + 1) * n_ctx])
            s = (torch.logsumexp(lg, dim=-1) - lg[torch.arange(len(tgt)), tgt]).sum().item()
            nll += s
            count += len(tgt)
            chunks.append({"chunk": i, "nll_sum": s, "n_scored": len(tgt)})
            print(f"transformers ppl {name} chunk {i}: nll {s:.4f} (llama.cpp {r['chunks'][i]['nll_sum']:.4f})")
        ppl = float(np.exp(nll / count))
        res["models"][name] = {"model_file": fname, "ppl": ppl, "count": count, "nll_total": nll,
                               "llamacpp_ppl": r["ppl"],
                               "rel_diff_vs_llamacpp": ppl / r["ppl"] - 1, "chunks": chunks}
        print(f"{name}: transformers PPL {ppl:.4f}, llama.cpp {r['ppl']:.4f} ({100 * (ppl / r['ppl'] - 1):+.3f} %)")
        del model
    with open(os.path.join(out_root, "ppl_transformers.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.environ.get("HONE_MODELS", ""))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "fixtures", "engine"))
    ap.add_argument("--only", choices=["real", "tiny", "ppl"],
                    help="ppl needs ppl_llamacpp.json (make_engine_llamacpp.py) first")
    a = ap.parse_args()
    if a.only == "ppl":
        make_ppl(a.models, a.out)
        return
    if a.only != "real":
        make_tiny(a.out)
    if a.only != "tiny":
        if not a.models:
            sys.exit("set --models or HONE_MODELS")
        make_real(a.models, a.out)


if __name__ == "__main__":
    main()
