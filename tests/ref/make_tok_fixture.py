#!/usr/bin/env python3
"""make_tok_fixture.py: reference token ids for Gemma 3 and SmolLM2, written once and
committed (tests/fixtures/tok_gemma3.jsonl, tok_smollm2.jsonl); the C test
tests/unit/test_tokenizer_models.c compares hone against them without Python.

References, both independent of hone and of llama.cpp's code, built from the same
GGUF metadata the C side reads:
  * Gemma 3: Google's own SentencePiece library (the `sentencepiece` package) on a
    ModelProto rebuilt from tokenizer.ggml.tokens/scores/token_type (the GGUF types
    are SentencePiece's piece types; user-defined pieces get back the '▁' that
    llama.cpp's converter turned into spaces), BPE, byte_fallback, no dummy prefix,
    identity normalizer: what Gemma's tokenizer.model is.
  * SmolLM2: Hugging Face `tokenizers` with the BPE model from tokens + merges and
    SmolLM2's tokenizer.json pre-tokenizer (Digits(individual) then ByteLevel).
Special-token parsing: strings with "special": true are encoded with control
tokens recognised (hone: HONE_TOK_SPECIAL); all others with none.

Cross-checked against llama.cpp (llama-cpp-python) and transformers loading the same GGUF
by check_tok_fixture_peers.py: llama.cpp agrees on 2207/2207 entries of both fixtures;
results and the transformers differences explained in tests/fixtures/README.md.

Needs (not in the test venv: the fixture is generated once):
    pip install sentencepiece protobuf tokenizers gguf numpy
Run: python tests/ref/make_tok_fixture.py MODELS_DIR
"""
import json
import random
import sys

import gguf

OUT = "tests/fixtures"


def corpus(seed=1234):
    rnd = random.Random(seed)
    base = [
        "Hello world", " Hello world", "Hello  world", "hello\nworld", "\n", "\n\n", "\n\n\n\n",
        " ", "  ", "   ", "\t", "\t\t", " \t \n", "a  b   c    d", "trailing spaces   ",
        "The quick brown fox jumps over the lazy dog.",
        "I'm sure you'll see they've done it, didn't they? It's OK.",
        "Привет, мир! Как дела? Это проверка токенизатора.",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "你好，世界！这是一个分词器测试。", "我爱北京天安门，天安门上太阳升。",
        "こんにちは世界。これはトークナイザーのテストです。カタカナとひらがな。",
        "مرحبا بالعالم! هذا اختبار للمحلل.", "नमस्ते दुनिया! यह एक परीक्षण है।",
        "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅", "👨‍👩‍👧‍👦 family 👩🏽‍💻 coder 🏳️‍🌈 flag",
        "def f(x):\n    return x * 2  # comment\n", "int main(void) {\n\treturn 0;\n}\n",
        "for (int i = 0; i < n; i++) { sum += a[i]; }", "<html><body><b>bold</b></body></html>",
        "3333333 12345678901234567890 3.14159 1,000,000 0x1F", "2024-01-15T10:30:00Z",
        "supercalifragilisticexpialidocious" * 3, "Donaudampfschifffahrtsgesellschaftskapitän",
        "ied 4 ½ months", "Äpfel", "w048 7tuijk dsdfhu", "  \n  \n", "...!!!???", "$$$ %%% ^^^",
        "e\u0301 vs é", "\u00a0nbsp\u2009thin\u3000ideographic", "zero\u200bwidth", "tab\tsep\tvalues",
    ]
    alphabets = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗ",
        "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生",
        "あいうえおかきくけこさしすせそアイウエオカキクケコ日本語漢字",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "अआइईउऊएऐओऔकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह्ािीुूेैोौं",
        "0123456789", " ", "\n", "\t", ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`",
        "😀😃😄😁🚀🌍🔥✨👍🏽‍♀️🇺🇸", "éèêëàâäôöùûüçñß",
    ]
    out = list(base)
    while len(out) < 2200:
        s = ""
        for _ in range(rnd.randint(1, 22)):
            alpha = alphabets[rnd.randrange(len(alphabets))]
            s += "".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 8)))
            if rnd.random() < 0.5:
                s += rnd.choice([" ", " ", " ", "  ", "\n", "\n\n", "\t", "    ", ", ", ". "])
        out.append(s)
    return out


SPECIAL_GEMMA = [
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n",
    "<bos><start_of_turn>user\nПривет<end_of_turn>", "text <start_of_image> more <mask> end",
]
SPECIAL_SMOL = [
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    "<|endoftext|>tail", "a<|im_start|>b<|im_end|>c",
]
# long strings: (unit, repeat) so the fixture stays small; ids stored as count + FNV-1a
LONG = [("The quick brown fox jumps over the lazy dog. Привет мир! 你好世界。 ", 1500),
        ("def f(x):\n\treturn x  # ok\n", 4000), (" ", 100000), ("a", 100000)]


def fnv(ids):
    h = 1469598103934665603
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def gemma_ref(path):
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
    r = gguf.GGUFReader(path)
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    scores = r.fields["tokenizer.ggml.scores"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.vocab_size = len(toks)
    m.trainer_spec.unk_id = int(r.fields["tokenizer.ggml.unknown_token_id"].contents())
    m.trainer_spec.bos_id = int(r.fields["tokenizer.ggml.bos_token_id"].contents())
    m.trainer_spec.eos_id = int(r.fields["tokenizer.ggml.eos_token_id"].contents())
    m.trainer_spec.pad_id = int(r.fields["tokenizer.ggml.padding_token_id"].contents())
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    for t, s, ty in zip(toks, scores, types):
        p = m.pieces.add()
        p.piece = t.replace(" ", "\u2581") if ty == 4 else t
        p.score = float(s)
        p.type = int(ty)
    sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
    ctrl = {t: i for i, (t, ty) in enumerate(zip(toks, types)) if ty == 3}

    def enc(text, special):
        if not special:
            return sp.encode(text)
        # control tokens split out first (longest first), the rest through SentencePiece
        ids, i = [], 0
        pieces = sorted(ctrl, key=len, reverse=True)
        buf = ""
        while i < len(text):
            hit = next((p for p in pieces if text.startswith(p, i)), None)
            if hit:
                if buf:
                    ids += sp.encode(buf)
                    buf = ""
                ids.append(ctrl[hit])
                i += len(hit)
            else:
                buf += text[i]
                i += 1
        if buf:
            ids += sp.encode(buf)
        return ids
    return enc


def smol_ref(path):
    from tokenizers import Tokenizer, models, pre_tokenizers, AddedToken
    r = gguf.GGUFReader(path)
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()
    vocab = {t: i for i, t in enumerate(toks)}
    pairs = [tuple(mm.split(" ", 1)) for mm in merges]

    def build(special):
        tk = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=False))
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        if special:
            tk.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                   for t, ty in zip(toks, types) if ty == 3])
        return tk
    plain, spec = build(False), build(True)
    return lambda text, special: (spec if special else plain).encode(text, add_special_tokens=False).ids


def write(name, enc, specials):
    n = 0
    with open(f"{OUT}/{name}", "w", encoding="utf-8") as f:
        for s in corpus():
            f.write(json.dumps({"text": s, "ids": enc(s, False)}, ensure_ascii=False) + "\n")
            n += 1
        for s in specials:
            f.write(json.dumps({"text": s, "special": True, "ids": enc(s, True)}, ensure_ascii=False) + "\n")
            n += 1
        for unit, rep in LONG:
            ids = enc(unit * rep, False)
            f.write(json.dumps({"unit": unit, "repeat": rep, "n_ids": len(ids), "fnv": fnv(ids)},
                               ensure_ascii=False) + "\n")
            n += 1
    print(f"{name}: {n} strings")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "models"
    write("tok_gemma3.jsonl", gemma_ref(f"{d}/gemma-3-270m-q4_k_m.gguf"), SPECIAL_GEMMA)
    write("tok_smollm2.jsonl", smol_ref(f"{d}/SmolLM2-135M-Instruct.Q4_1.gguf"), SPECIAL_SMOL)


if __name__ == "__main__":
    main()
