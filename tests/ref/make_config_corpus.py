#!/usr/bin/env python3
"""make_config_corpus.py: writes tests/corpus/hfconfig/, hand-made HF
config.json texts for the config parser's robustness tests (and fuzz_hfconfig's
seed corpus), and its manifest EXPECTED.tsv.

The valid ones are shaped like the published configs of SmolLM2-135M (llama),
Gemma 3 270M (gemma3_text), a multimodal Gemma 3 (gemma3 with text_config),
Qwen2.5-0.5B (qwen2), Mistral 7B and Llama 3.2 1B (llama3 rope scaling); each
corrupt one changes one thing. EXPECTED.tsv: NAME <TAB> EXPECT <TAB> WHERE,
EXPECT `ok` or a substring of the one-line error (EXPECT below), WHERE the JSON
path the message must name (as $.WHERE), `-` when unstated. Every size must be
an integer within a sane limit (hfconfig.c's LIM_*), null only where
transformers gives it a meaning, and model_type is required (transformers'
AutoConfig refuses a config without it, architectures or not).

Cases in DEFAULTED drop a key that transformers fills with a default for that
model type and the result is a consistent model, so they are `ok` (hone takes
transformers' defaults, include/hone/model.h). Dropping hidden_size or
num_attention_heads from SmolLM2 gives defaults (4096, 32) that do not divide
with its other sizes: those are errors.

`--check` verifies the texts with Python's json module: json-* cases must be
refused (except NaN/Infinity and a lone surrogate escape, which Python accepts;
json-top-* are valid JSON but not objects), utf8-*
are not UTF-8, and every other case must be valid JSON, so it tests meaning,
not syntax.

Run: python3 tests/ref/make_config_corpus.py [--check] [--out DIR]
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "hfconfig")

SMOL = {
    "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536, "max_position_embeddings": 8192, "model_type": "llama",
    "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 100000,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.42.3",
    "use_cache": True, "vocab_size": 49152}
GEMMA = {
    "architectures": ["Gemma3ForCausalLM"], "_sliding_window_pattern": 6, "attention_bias": False,
    "attention_dropout": 0.0, "attn_logit_softcapping": None, "bos_token_id": 2, "eos_token_id": 1,
    "final_logit_softcapping": None, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 640, "initializer_range": 0.02, "intermediate_size": 2048,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3,
    "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4,
    "num_hidden_layers": 18, "num_key_value_heads": 1, "pad_token_id": 0,
    "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0,
    "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": 512,
    "torch_dtype": "bfloat16", "transformers_version": "4.55.0.dev0",
    "use_bidirectional_attention": False, "use_cache": True, "vocab_size": 262144}
GEMMA_MM = {
    "architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999,
    "eoi_token_index": 256000, "eos_token_id": [1, 106], "image_token_index": 262144,
    "initializer_range": 0.02, "mm_tokens_per_image": 256, "model_type": "gemma3",
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                    "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "sliding_window": 1024},
    "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0",
    "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                      "model_type": "siglip_vision_model", "num_attention_heads": 16,
                      "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": False}}
QWEN = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1", "use_cache": True, "use_mrope": False,
    "use_sliding_window": False, "vocab_size": 151936}
MISTRAL = {
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 32768}
LLAMA32 = dict(SMOL, hidden_size=2048, intermediate_size=8192, num_attention_heads=32,
               num_hidden_layers=16, num_key_value_heads=8, head_dim=64, rope_theta=500000.0,
               max_position_embeddings=131072, vocab_size=128256,
               rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"})

CASES = []  # (name, bytes, expect, where)

# The error each corrupt text must give: a substring of hone's one-line message
# (the text after "config.json: $.PATH: "), and PATH, the JSON path it must name
# as "$.PATH"; "-" where the JSON itself is bad (jansson names line and column,
# not a path: syntax, bad UTF-8, duplicate keys, integers past 64 bits).
EXPECT = {
    'duplicate-hidden_size.json': ('duplicate object key near \'"hidden_size"\'', '-'),
    'duplicate-model_type.json': ('duplicate object key near \'"model_type"\'', '-'),
    'gemma-layers-600.json': ('600 is out of range (expected 1..512)', 'num_hidden_layers'),
    'huge-digits.json': ('too big integer', '-'),
    'huge-exponent.json': ("real number overflow near '1e99999'", '-'),
    'huge-head_dim-2147483648.json': ('2147483648 is out of range (expected 1..65536)', 'head_dim'),
    'huge-hidden_size-18446744073709551616.json': ("too big integer near '18446744073709551616'", '-'),
    'huge-hidden_size-1e308.json': ('expected an integer 1..262144, got a real number', 'hidden_size'),
    'huge-hidden_size-4294967296.json': ('4294967296 is out of range (expected 1..262144)', 'hidden_size'),
    'huge-intermediate_size-8589934592.json': ('8589934592 is out of range (expected 1..1048576)', 'intermediate_size'),
    'huge-max_position_embeddings-1180591620717411303424.json': ('too big integer', '-'),
    'huge-num_attention_heads-4294967305.json': ('4294967305 is out of range (expected 1..16384)', 'num_attention_heads'),
    'huge-num_hidden_layers-100000.json': ('100000 is out of range (expected 1..512)', 'num_hidden_layers'),
    'huge-num_hidden_layers-2147483648.json': ('2147483648 is out of range (expected 1..512)', 'num_hidden_layers'),
    'huge-rope_theta-1e308.json': ('1e+308 is out of range (expected > 0 and <= 1e+12)', 'rope_theta'),
    'huge-vocab_size-1099511627776.json': ('1099511627776 is out of range (expected 1..16777216)', 'vocab_size'),
    'json-bad-escape.json': ('invalid escape near \'"ll\\q\'', '-'),
    'json-bom.json': ("'[' or '{' expected near '\ufeff'", '-'),
    'json-comment.json': ("'[' or '{' expected near '/'", '-'),
    'json-control-char.json': ('control character 0x1 near \'"ll\'', '-'),
    'json-deep-nesting.json': ("maximum parsing depth reached near '['", '-'),
    'json-deep-objects.json': ('missing (expected a string such as "llama")', 'model_type'),
    'json-deep-unclosed.json': ("maximum parsing depth reached near '['", '-'),
    'json-empty.json': ("'[' or '{' expected near end of file", '-'),
    'json-hex-number.json': ("'}' expected near 'x'", '-'),
    'json-infinity.json': ("invalid token near 'Infinity'", '-'),
    'json-leading-zero.json': ("invalid token near '0'", '-'),
    'json-lone-surrogate.json': ('invalid Unicode \'\\uDC00\' near \'"\\udc00"\'', '-'),
    'json-nan.json': ("invalid token near 'NaN'", '-'),
    'json-nul.json': ('end of file expected near end of file', '-'),
    'json-plus-number.json': ("invalid token near '+'", '-'),
    'json-single-quotes.json': ("string or '}' expected near '''", '-'),
    'json-spaces.json': ("'[' or '{' expected near end of file", '-'),
    'json-top-array-of-config.json': ('$: expected a JSON object, got an array', '-'),
    'json-top-array.json': ('$: expected a JSON object, got an array', '-'),
    'json-top-null.json': ("'[' or '{' expected near 'null'", '-'),
    'json-top-number.json': ("'[' or '{' expected near '1'", '-'),
    'json-top-string.json': ('\'[\' or \'{\' expected near \'"llama"\'', '-'),
    'json-top-true.json': ("'[' or '{' expected near 'true'", '-'),
    'json-trailing-comma.json': ("string or '}' expected near '}'", '-'),
    'json-trailing-garbage.json': ("end of file expected near 'x'", '-'),
    'json-truncated-1.json': ("'}' expected near end of file", '-'),
    'json-truncated.json': ("':' expected near end of file", '-'),
    'json-two-objects.json': ("end of file expected near '{'", '-'),
    'missing-everything.json': ('missing (expected a string such as "llama")', 'model_type'),
    'missing-hidden_size.json': ('9 does not divide $.hidden_size 4096 (expected a divisor when head_dim is not given)', 'num_attention_heads'),
    'missing-model_type-and-architectures.json': ('missing (expected a string such as "llama")', 'model_type'),
    'missing-model_type.json': ('missing (expected a string such as "llama"; architectures names \'LlamaForCausalLM\')', 'model_type'),
    'missing-num_attention_heads.json': ('3 kv heads do not divide $.num_attention_heads 32', 'num_key_value_heads'),
    'model_type-bert.json': ("architecture 'bert' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwen2)", 'model_type'),
    'model_type-empty.json': ("architecture '' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwen2)", 'model_type'),
    'model_type-gemma3_vision.json': ("architecture 'gemma3_vision' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral,", 'model_type'),
    'model_type-gpt2.json': ("architecture 'gpt2' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwen2)", 'model_type'),
    'model_type-llama.json-space': ("architecture 'llama ' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwen2)", 'model_type'),
    'model_type-llama.json-upper': ("architecture 'LLAMA' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwen2)", 'model_type'),
    'model_type-qwen2_moe.json': ("architecture 'qwen2_moe' (LlamaForCausalLM) is not supported (hone knows gemma3, llama, mistral, qwe", 'model_type'),
    'negative-gemma-sliding_window.json': ('-512 is out of range (expected 0..1073741824)', 'sliding_window'),
    'negative-head_dim.json': ('-1 is out of range (expected 1..65536)', 'head_dim'),
    'negative-hidden_size.json': ('-1 is out of range (expected 1..262144)', 'hidden_size'),
    'negative-intermediate_size.json': ('-1 is out of range (expected 1..1048576)', 'intermediate_size'),
    'negative-num_attention_heads.json': ('-1 is out of range (expected 1..16384)', 'num_attention_heads'),
    'negative-num_hidden_layers.json': ('-1 is out of range (expected 1..512)', 'num_hidden_layers'),
    'negative-num_key_value_heads.json': ('-1 is out of range (expected 1..16384)', 'num_key_value_heads'),
    'negative-rms_norm_eps.json': ('-1e-05 is out of range (expected > 0 and <= 1)', 'rms_norm_eps'),
    'negative-rope_theta.json': ('-10000 is out of range (expected > 0 and <= 1e+12)', 'rope_theta'),
    'negative-vocab_size.json': ('-1 is out of range (expected 1..16777216)', 'vocab_size'),
    'rope-factor-negative.json': ('-32 is out of range (expected > 0 and <= 1e+06)', 'rope_scaling.factor'),
    'rope-factor-string.json': ('expected a number > 0 and <= 1e+06, got a string', 'rope_scaling.factor'),
    'rope-llama3-missing-orig.json': ('missing (llama3 rope scaling needs it)', 'rope_scaling.original_max_position_embeddings'),
    'rope-missing-type.json': ('expected a string, got nothing', 'rope_scaling.rope_type'),
    'rope-unknown-type.json': ("'ntk-by-parts' is not supported (expected default, linear, llama3 or yarn)", 'rope_scaling.rope_type'),
    'shape-heads-not-dividing-hidden.json': ('7 does not divide $.hidden_size 576 (expected a divisor when head_dim is not given)', 'num_attention_heads'),
    'shape-kv-heads-above-heads.json': ('18 kv heads do not divide $.num_attention_heads 9', 'num_key_value_heads'),
    'shape-kv-heads-not-dividing-heads.json': ('4 kv heads do not divide $.num_attention_heads 9', 'num_key_value_heads'),
    'text_config-array.json': ('expected an object, got an array', 'text_config'),
    'text_config-hidden-string.json': ('expected an integer 1..262144, got a string', 'text_config.hidden_size'),
    'text_config-negative-layers.json': ('-34 is out of range (expected 1..512)', 'text_config.num_hidden_layers'),
    'text_config-rope_scaling-bad.json': ('expected a number > 0 and <= 1e+06, got a string', 'text_config.rope_scaling.factor'),
    'text_config-rope_scaling-zero.json': ('0 is out of range (expected > 0 and <= 1e+06)', 'text_config.rope_scaling.factor'),
    'text_config-string.json': ('expected an object, got a string', 'text_config'),
    'text_config-wrong-model_type.json': ("'llama' is not supported with model_type 'gemma3' (hone knows gemma3, llama, mistral, qwen2)", 'text_config.model_type'),
    'type-gemma-final_logit_softcapping-string.json': ('expected a number > 0 and <= 1e+06, got a string', 'final_logit_softcapping'),
    'type-gemma-layer_types-numbers.json': ('expected "sliding_attention" or "full_attention"', 'layer_types[0]'),
    'type-gemma-layer_types-short.json': ('expected an array of 18 strings (one per layer)', 'layer_types'),
    'type-gemma-layer_types-string.json': ('expected an array of 18 strings (one per layer)', 'layer_types'),
    'type-gemma-layer_types-unknown.json': ('expected "sliding_attention" or "full_attention"', 'layer_types[17]'),
    'type-gemma-query_pre_attn_scalar-string.json': ('expected a number > 0 and <= 1e+06, got a string', 'query_pre_attn_scalar'),
    'type-gemma-sliding_window-string.json': ('expected an integer 0..1073741824, got a string', 'sliding_window'),
    'type-head_dim-0.json': ('expected an integer 1..65536, got a string', 'head_dim'),
    'type-head_dim-1.json': ('expected an integer 1..65536, got a real number', 'head_dim'),
    'type-hidden_size-0.json': ('expected an integer 1..262144, got a string', 'hidden_size'),
    'type-hidden_size-1.json': ('expected an integer 1..262144, got a real number', 'hidden_size'),
    'type-hidden_size-2.json': ('expected an integer 1..262144, got true', 'hidden_size'),
    'type-hidden_size-3.json': ('expected an integer 1..262144, got null', 'hidden_size'),
    'type-hidden_size-4.json': ('expected an integer 1..262144, got an array', 'hidden_size'),
    'type-hidden_size-5.json': ('expected an integer 1..262144, got an object', 'hidden_size'),
    'type-intermediate_size-0.json': ('expected an integer 1..1048576, got a string', 'intermediate_size'),
    'type-max_position_embeddings-0.json': ('expected an integer 1..1073741824, got a string', 'max_position_embeddings'),
    'type-model_type-0.json': ('expected a string, got an integer', 'model_type'),
    'type-model_type-1.json': ('expected a string, got null', 'model_type'),
    'type-model_type-2.json': ('expected a string, got an array', 'model_type'),
    'type-num_attention_heads-0.json': ('expected an integer 1..16384, got a string', 'num_attention_heads'),
    'type-num_attention_heads-1.json': ('expected an integer 1..16384, got null', 'num_attention_heads'),
    'type-num_hidden_layers-0.json': ('expected an integer 1..512, got a string', 'num_hidden_layers'),
    'type-num_hidden_layers-1.json': ('expected an integer 1..512, got a real number', 'num_hidden_layers'),
    'type-num_hidden_layers-2.json': ('expected an integer 1..512, got false', 'num_hidden_layers'),
    'type-num_key_value_heads-0.json': ('expected an integer 1..16384, got a string', 'num_key_value_heads'),
    'type-num_key_value_heads-1.json': ('expected an integer 1..16384, got a real number', 'num_key_value_heads'),
    'type-rms_norm_eps-0.json': ('expected a number > 0 and <= 1, got a string', 'rms_norm_eps'),
    'type-rms_norm_eps-1.json': ('expected a number > 0 and <= 1, got true', 'rms_norm_eps'),
    'type-rms_norm_eps-2.json': ('expected a number > 0 and <= 1, got null', 'rms_norm_eps'),
    'type-rope_scaling-0.json': ('expected an object or null, got a string', 'rope_scaling'),
    'type-rope_scaling-1.json': ('expected an object or null, got an array', 'rope_scaling'),
    'type-rope_scaling-2.json': ('expected an object or null, got a real number', 'rope_scaling'),
    'type-rope_theta-0.json': ('expected a number > 0 and <= 1e+12, got a string', 'rope_theta'),
    'type-rope_theta-1.json': ('expected a number > 0 and <= 1e+12, got an array', 'rope_theta'),
    'type-tie_word_embeddings-0.json': ('expected true or false, got a string', 'tie_word_embeddings'),
    'type-tie_word_embeddings-1.json': ('expected true or false, got an integer', 'tie_word_embeddings'),
    'type-vocab_size-0.json': ('expected an integer 1..16777216, got a string', 'vocab_size'),
    'type-vocab_size-1.json': ('expected an integer 1..16777216, got a real number', 'vocab_size'),
    'utf8-key.json': ('unable to decode byte 0xc0 near \'"use\'', '-'),
    'utf8-truncated.json': ('unable to decode byte 0xe2', '-'),
    'utf8-value.json': ('unable to decode byte 0xff near \'"bf\'', '-'),
    'zero-head_dim.json': ('0 is out of range (expected 1..65536)', 'head_dim'),
    'zero-hidden_size.json': ('0 is out of range (expected 1..262144)', 'hidden_size'),
    'zero-intermediate_size.json': ('0 is out of range (expected 1..1048576)', 'intermediate_size'),
    'zero-num_attention_heads.json': ('0 is out of range (expected 1..16384)', 'num_attention_heads'),
    'zero-num_hidden_layers.json': ('0 is out of range (expected 1..512)', 'num_hidden_layers'),
    'zero-num_key_value_heads.json': ('0 is out of range (expected 1..16384)', 'num_key_value_heads'),
    'zero-rope_theta.json': ('0 is out of range (expected > 0 and <= 1e+12)', 'rope_theta'),
    'zero-vocab_size.json': ('0 is out of range (expected 1..16777216)', 'vocab_size'),
    'huge-product-heads-head_dim.json': ('18 heads x 65536 = 1179648 is out of range (expected at most 1048576)', 'head_dim'),
    'huge-product-hidden-vocab.json': ('16777216 x hidden size 262144 = 4398046511104 embedding elements is out of range', 'vocab_size'),
    'huge-product-hidden-ffn.json': ('1048576 x hidden size 262144 = 274877906944 elements is out of range', 'intermediate_size'),
    'null-max_position_embeddings.json': ('expected an integer 1..1073741824, got null', 'max_position_embeddings'),
    'odd-head_dim.json': ('63 is odd (rotary embeddings need an even head size)', 'head_dim'),
}
DEFAULTED = set()


def add(name, text, expect="error", where=None):
    if expect == "error":
        assert name in EXPECT, "no expected message for " + name
        expect, w = EXPECT[name]
        where = None if w == "-" else w
    data = text.encode() if isinstance(text, str) else text
    CASES.append((name, data, expect, where))


def dump(cfg):
    return json.dumps(cfg, indent=2, ensure_ascii=False) + "\n"


def change(base, name, path, value, expect="error", defaulted=False):
    """base with the key at path (a.b.c) set to value, or removed if value is DEL."""
    cfg = json.loads(json.dumps(base))
    keys = path.split(".")
    d = cfg
    for k in keys[:-1]:
        d = d[k]
    if value is DEL:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value
    if defaulted:
        DEFAULTED.add(name)
        expect = "ok"
    add(name, dump(cfg), expect, None if expect == "ok" else path)


DEL = object()


def valid():
    for nm, cfg in (("smollm2-135m", SMOL), ("gemma3-270m", GEMMA), ("gemma3-4b-mm", GEMMA_MM),
                    ("qwen2.5-0.5b", QWEN), ("mistral-7b", MISTRAL), ("llama3.2-1b", LLAMA32)):
        add("ok-%s.json" % nm, dump(cfg), "ok")
    add("ok-compact.json", json.dumps(SMOL, separators=(",", ":")), "ok")
    add("ok-unknown-keys.json", dump(dict(SMOL, my_extra={"a": [1, 2, {"b": None}]}, zzz="é✓")), "ok")
    add("ok-ints-as-floats.json", dump(dict(SMOL, rope_theta=100000.0, rms_norm_eps=0.00001)), "ok")


def bad_json():
    t = dump(SMOL)
    for nm, s in (("empty", ""), ("spaces", "  \n"), ("truncated", t[: len(t) // 2]),
                  ("truncated-1", t[:-2]), ("trailing-comma", t.rstrip()[:-1].rstrip() + ",}"),
                  ("trailing-garbage", t + "x"), ("two-objects", t + t), ("single-quotes", "{'a': 1}"),
                  ("comment", "// c\n" + t), ("nan", t.replace('"rms_norm_eps": 1e-05', '"rms_norm_eps": NaN')),
                  ("infinity", t.replace('"rope_theta": 100000', '"rope_theta": Infinity')),
                  ("bad-escape", t.replace('"llama"', '"ll\\qama"')),
                  ("lone-surrogate", t.replace('"llama"', '"\\udc00"')),
                  ("control-char", t.replace('"llama"', '"ll\x01ama"')), ("nul", t + "\0"),
                  ("bom", "\ufeff" + t), ("leading-zero", t.replace('"hidden_size": 576', '"hidden_size": 0576')),
                  ("plus-number", t.replace('"hidden_size": 576', '"hidden_size": +576')),
                  ("hex-number", t.replace('"hidden_size": 576', '"hidden_size": 0x240'))):
        add("json-%s.json" % nm, s)
    add("json-deep-nesting.json", dump(dict(SMOL, deep=None)).replace("null", "[" * 3000 + "]" * 3000))
    add("json-deep-unclosed.json", '{"a":' + "[" * 3000)
    add("json-deep-objects.json", '{"a":' + '{"a":' * 2000 + "1" + "}" * 2001)
    for nm, s in (("array", "[]"), ("string", '"llama"'), ("number", "1"), ("null", "null"),
                  ("true", "true"), ("array-of-config", "[" + dump(SMOL) + "]")):
        add("json-top-%s.json" % nm, s)
    add("utf8-value.json", t.replace('"bfloat16"', '"bf\xff16"').encode("latin-1"))
    add("utf8-key.json", t.replace('"use_cache"', '"use\xc0\xafcache"').encode("latin-1"))
    add("utf8-truncated.json", t.encode() + b"\xe2\x82")


def semantics():
    # wrong types for known keys
    for key, vals in (("hidden_size", ["576", 576.5, True, None, [576], {"v": 576}]),
                      ("num_hidden_layers", ["30", 30.5, False]),
                      ("num_attention_heads", ["9", None]), ("num_key_value_heads", ["3", 3.25]),
                      ("intermediate_size", ["1536"]), ("vocab_size", ["49152", 49152.5]),
                      ("rms_norm_eps", ["1e-5", True, None]), ("rope_theta", ["100000", [1]]),
                      ("tie_word_embeddings", ["true", 1]), ("model_type", [3, None, ["llama"]]),
                      ("rope_scaling", ["linear", [1, 2], 8.0]), ("max_position_embeddings", ["8192"]),
                      ("head_dim", ["64", 64.5])):
        for k, v in enumerate(vals):
            change(SMOL, "type-%s-%d.json" % (key, k), key, v)
    change(GEMMA, "type-gemma-layer_types-string.json", "layer_types", "sliding_attention")
    change(GEMMA, "type-gemma-layer_types-numbers.json", "layer_types", [0] * 18)
    change(GEMMA, "type-gemma-layer_types-unknown.json", "layer_types", ["sliding_attention"] * 17 + ["chunked"])
    change(GEMMA, "type-gemma-layer_types-short.json", "layer_types", ["full_attention"] * 17)
    change(GEMMA, "type-gemma-sliding_window-string.json", "sliding_window", "512")
    change(GEMMA, "type-gemma-query_pre_attn_scalar-string.json", "query_pre_attn_scalar", "256")
    change(GEMMA, "type-gemma-final_logit_softcapping-string.json", "final_logit_softcapping", "30")
    # missing keys
    change(SMOL, "missing-model_type.json", "model_type", DEL)
    cfg = dict(SMOL)
    del cfg["model_type"], cfg["architectures"]
    add("missing-model_type-and-architectures.json", dump(cfg), "error", "model_type")
    for key in ("num_hidden_layers", "vocab_size", "intermediate_size"):
        change(SMOL, "missing-%s.json" % key, key, DEL, defaulted=True)
    # defaults 4096 / 32 do not fit 9 heads / 3 kv heads
    change(SMOL, "missing-hidden_size.json", "hidden_size", DEL)
    change(SMOL, "missing-num_attention_heads.json", "num_attention_heads", DEL)
    change(GEMMA_MM, "missing-gemma-mm-text_config.json", "text_config", DEL, defaulted=True)
    add("missing-everything.json", "{}")
    add("missing-all-but-type.json", '{"model_type": "llama"}', "ok")  # Llama 2 7B
    DEFAULTED.add("missing-all-but-type.json")
    # huge numbers
    for key, v in (("hidden_size", 2**64), ("hidden_size", 2**32), ("hidden_size", 1e308),
                   ("num_hidden_layers", 100000), ("num_hidden_layers", 2**31),
                   ("vocab_size", 2**40), ("intermediate_size", 2**33), ("num_attention_heads", 2**32 + 9),
                   ("max_position_embeddings", 2**70), ("rope_theta", 1e308),
                   ("head_dim", 2**31)):
        change(SMOL, "huge-%s-%s.json" % (key, str(v).replace("+", "")), key, v)
    add("huge-digits.json", dump(SMOL).replace('"hidden_size": 576', '"hidden_size": ' + "9" * 400))
    add("huge-exponent.json", dump(SMOL).replace('"rope_theta": 100000', '"rope_theta": 1e99999'))
    # each size in range, their product not: the q projection, the embeddings, the ffn
    add("huge-product-heads-head_dim.json", dump(dict(SMOL, num_attention_heads=18, head_dim=65536)),
        "error", "head_dim")
    add("huge-product-hidden-vocab.json", dump(dict(LLAMA32, hidden_size=262144, vocab_size=16777216)),
        "error", "vocab_size")
    add("huge-product-hidden-ffn.json", dump(dict(LLAMA32, hidden_size=262144, intermediate_size=1048576)),
        "error", "intermediate_size")
    # null where transformers gives it a meaning (the default), and where it does not
    change(SMOL, "null-head_dim.json", "head_dim", None, "ok")
    change(SMOL, "null-num_key_value_heads.json", "num_key_value_heads", None, "ok")
    change(SMOL, "null-max_position_embeddings.json", "max_position_embeddings", None)
    change(SMOL, "odd-head_dim.json", "head_dim", 63)
    # negative and zero sizes
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "vocab_size", "intermediate_size", "head_dim"):
        change(SMOL, "negative-%s.json" % key, key, -1)
        change(SMOL, "zero-%s.json" % key, key, 0)
    change(SMOL, "negative-rms_norm_eps.json", "rms_norm_eps", -1e-5)
    change(SMOL, "negative-rope_theta.json", "rope_theta", -10000)
    change(SMOL, "zero-rope_theta.json", "rope_theta", 0)
    change(GEMMA, "negative-gemma-sliding_window.json", "sliding_window", -512)
    # inconsistent shapes
    change(SMOL, "shape-heads-not-dividing-hidden.json", "num_attention_heads", 7)
    change(SMOL, "shape-kv-heads-not-dividing-heads.json", "num_key_value_heads", 4)
    change(SMOL, "shape-kv-heads-above-heads.json", "num_key_value_heads", 18)
    # model types
    for v in ("gpt2", "", "LLAMA", "llama ", "bert", "gemma3_vision", "qwen2_moe"):
        change(SMOL, "model_type-%s.json" % (v.strip().lower() or "empty") + ("-space" if v.endswith(" ") else "")
               + ("-upper" if v.isupper() else ""), "model_type", v)
    # nested text_config
    change(GEMMA_MM, "text_config-string.json", "text_config", "gemma3_text")
    change(GEMMA_MM, "text_config-null.json", "text_config", None, defaulted=True)
    change(GEMMA_MM, "text_config-array.json", "text_config", [GEMMA_MM["text_config"]])
    change(GEMMA_MM, "text_config-hidden-string.json", "text_config.hidden_size", "2560")
    change(GEMMA_MM, "text_config-negative-layers.json", "text_config.num_hidden_layers", -34)
    change(GEMMA_MM, "text_config-wrong-model_type.json", "text_config.model_type", "llama")
    change(GEMMA_MM, "text_config-rope_scaling-bad.json", "text_config.rope_scaling", {"rope_type": "linear", "factor": "8"})
    change(GEMMA_MM, "text_config-rope_scaling-zero.json", "text_config.rope_scaling", {"rope_type": "linear", "factor": 0})
    # rope scaling
    change(LLAMA32, "rope-unknown-type.json", "rope_scaling", {"rope_type": "ntk-by-parts", "factor": 8.0})
    change(LLAMA32, "rope-factor-negative.json", "rope_scaling.factor", -32.0)
    change(LLAMA32, "rope-factor-string.json", "rope_scaling.factor", "32")
    change(LLAMA32, "rope-missing-type.json", "rope_scaling.rope_type", DEL)
    change(LLAMA32, "rope-llama3-missing-orig.json", "rope_scaling.original_max_position_embeddings", DEL)
    # duplicate keys (different values): ambiguous
    t = dump(SMOL)
    add("duplicate-hidden_size.json", t.replace('"hidden_size": 576,', '"hidden_size": 576, "hidden_size": 960,'),
        "error", "hidden_size")
    add("duplicate-model_type.json", t.replace('"model_type": "llama",', '"model_type": "llama", "model_type": "qwen2",'),
        "error", "model_type")
    # too many layers for the layer table
    layers = 600
    change(GEMMA, "gemma-layers-600.json", "num_hidden_layers", layers)


def main():
    valid()
    bad_json()
    semantics()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if "--check" in sys.argv:
        sys.exit(check())
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else OUT
    os.makedirs(out, exist_ok=True)
    keep = {n for n in os.listdir(out) if n.startswith("fuzz-")}
    for n in os.listdir(out):
        if n not in keep and not os.path.isdir(os.path.join(out, n)):  # seed/ stays
            os.remove(os.path.join(out, n))
    lines = []
    for name, data, expect, where in CASES:
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        lines.append("%s\t%s\t%s" % (name, expect, "-" if where is None else where))
    lines += EXTRA
    with open(os.path.join(out, "EXPECTED.tsv"), "w") as f:
        f.write("# name\texpect (ok, or a substring of the one-line error)\t"
                "JSON path named in the error as $.PATH (- = unstated)\n")
        f.write("# written by tests/ref/make_config_corpus.py; do not edit by hand\n")
        f.write("# ok through transformers' defaults: %s\n" % " ".join(sorted(DEFAULTED)))
        f.write("\n".join(lines) + "\n")
    print("%d files in %s" % (len(CASES), os.path.normpath(out)), file=sys.stderr)


def check():
    """The texts against Python's json module; returns the exit status."""
    bad = 0
    for name, data, expect, _ in CASES:
        try:
            v = json.loads(data.decode("utf-8"))
            err = None
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            v, err = None, "%s: %s" % (type(e).__name__, str(e)[:80])
        if name in ("json-nan.json", "json-infinity.json", "json-lone-surrogate.json"):
            ok = True  # not JSON / not Unicode, but Python's json accepts them: no reference
        elif name.startswith("json-top-"):
            ok = err is None and not isinstance(v, dict)  # valid JSON, not an object
        elif name in ("json-deep-nesting.json", "json-deep-objects.json"):
            ok = err is None or err.startswith("RecursionError")  # well-formed, only deep
        elif name.startswith("json-"):
            ok = err is not None
        elif name.startswith("utf8-"):
            ok = err is not None and err.startswith("UnicodeDecodeError")
        else:
            ok = err is None and isinstance(v, dict)
        if not ok:
            print("MISMATCH %s: %s" % (name, err or "parsed as JSON"))
            bad += 1
    print("hfconfig corpus vs Python's json: %d texts, %d valid configs, %d mismatches"
          % (len(CASES), sum(1 for c in CASES if c[2] == "ok"), bad))
    return 1 if bad else 0


# Inputs found by fuzzing (fuzz-*, minimized, kept in the folder by hand: this
# script leaves them alone), each with its hand-written EXPECTED.tsv line.
EXTRA = [
]


if __name__ == "__main__":
    main()
