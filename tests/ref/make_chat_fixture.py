#!/usr/bin/env python3
"""make_chat_fixture.py: renders a fixed set of conversations with transformers' own Jinja
renderer (transformers.utils.chat_template_utils.render_jinja_template: the code behind
tokenizer.apply_chat_template, sandboxed Jinja with trim_blocks/lstrip_blocks) and each model
family's real template text, and writes tests/fixtures/chat_templates.json for
tests/unit/test_chat.c.

The template texts are NOT committed (they come from the model repositories); pass their paths:

  python tests/ref/make_chat_fixture.py \
      gemma=PATH/gemma3.jinja llama3=PATH/llama3.jinja llama3.1=PATH/Llama-3.1-8B-Instruct.jinja \
      llama3.2=PATH/Llama-3.2-3B-Instruct.jinja mistral=PATH/mistral-v0.2.jinja \
      chatml=PATH/qwen2.5.jinja smollm2=PATH/smollm2.jinja chatml-plain=PATH/chatml-plain.jinja \
      deepseek=PATH/deepseek-r1-distill.jinja [--out tests/fixtures/chat_templates.json]

Needs only `transformers` and `jinja2` (no torch); keep them out of the test venv
(e.g. ~/.cache/hone/venv-ref). The fixture records, per template: the template's sha256 and size,
short distinctive excerpts (lines holding the markers detection looks for, not the whole text),
the special tokens passed to the renderer, and per conversation: the expected output (or the
exception text transformers raised), and per message the text the template shows for its
content (Python's str.strip for templates that `| trim`, DeepSeek's split on '</think>'), and for
assistant messages the end of their turn: the length of the rendering of the conversation cut
after that message (only where that rendering is a prefix of the whole).
"""
import hashlib
import json
import os
import sys

import jinja2
import transformers
from transformers.utils.chat_template_utils import render_jinja_template

# What each model's tokenizer passes to its template (tokenizer_config.json special tokens).
SPECIALS = {
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3.1": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    # Llama 3.2 dates its system block with strftime_now (today): the fixture fixes the date, hone
    # is given the same one (hone_chat_template_set_date).
    "llama3.2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "date_string": "05 Mar 2025"},
    "mistral": {"bos_token": "<s>", "eos_token": "</s>"},
    "chatml": {"bos_token": None, "eos_token": "<|im_end|>"},
    "smollm2": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "chatml-plain": {"bos_token": "<s>", "eos_token": "<|im_end|>"},
    "deepseek": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
}
# Where the template came from (the text itself stays out of the repository).
SOURCES = {
    "gemma": "google/gemma-3-*-it tokenizer_config.json chat_template (Gemma 3; the 270M GGUF embeds none)",
    "llama3": "meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json chat_template (Llama 3, not 3.1)",
    "llama3.1": "meta-llama/Llama-3.1-8B-Instruct (llama.cpp models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja)",
    "llama3.2": "meta-llama/Llama-3.2-3B-Instruct (llama.cpp models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja)",
    "mistral": "mistralai/Mistral-7B-Instruct-v0.2 tokenizer_config.json chat_template (mistral 'v1' layout, "
               "optional system), as in llama.cpp tests/test-chat-template.cpp",
    "chatml": "Qwen/Qwen2.5-7B-Instruct (llama.cpp models/templates/Qwen-Qwen2.5-7B-Instruct.jinja)",
    "smollm2": "tokenizer.chat_template of SmolLM2-135M-Instruct.Q4_1.gguf",
    "chatml-plain": "teknium/OpenHermes-2.5-Mistral-7B, as in llama.cpp tests/test-chat-template.cpp",
    "deepseek": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B (llama.cpp models/templates/"
                "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja)",
}
# The end-of-turn marker each family's assistant turns end with (what training masks include).
EOTS = {"gemma": "<end_of_turn>", "llama3": "<|eot_id|>", "llama3.1": "<|eot_id|>", "llama3.2": "<|eot_id|>", "mistral": "</s>", "chatml": "<|im_end|>",
        "smollm2": "<|im_end|>", "chatml-plain": "<|im_end|>", "deepseek": "<｜end▁of▁sentence｜>"}
# Templates whose Jinja applies `| trim` to each content (and the system prefix is not trimmed).
TRIMS = {"gemma", "llama3", "llama3.1", "llama3.2"}
MARKERS = ["<start_of_turn>", "first_user_prefix", "<|start_header_id|>", "Cutting Knowledge Date: December 2023",
           "' [INST] '", "[INST]", "<|im_start|>", "You are Qwen, created by Alibaba Cloud",
           "named SmolLM, trained by Hugging Face", "<｜User｜>", "<｜Assistant｜>", "</think>", "<think>", "strftime_now", "26 Jul 2024"]

S, U, A = "system", "user", "assistant"


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = [
    ("system+user", [m(S, "You are a careful assistant."), m(U, "What is 2+2?")]),
    ("user only", [m(U, "Hello!")]),
    ("multi-turn with system, assistant last",
     [m(S, "Answer briefly."), m(U, "Name a colour."), m(A, "Blue."), m(U, "Another one?"), m(A, "Green.")]),
    ("multi-turn no system", [m(U, "Hi"), m(A, "Hello, how can I help?"), m(U, "Tell me a joke.")]),
    ("assistant last, no system", [m(U, "Say yes."), m(A, "Yes.")]),
    ("empty contents", [m(S, ""), m(U, ""), m(A, ""), m(U, "")]),
    ("non-ASCII",
     [m(S, "Отвечай по-русски. 用中文也可以。"), m(U, "Привет! 你好 👋🏽 👨‍👩‍👧 café"),
      m(A, "Здравствуйте! 你好！🙂"), m(U, "日本語と العربية と हिन्दी")]),
    ("whitespace around contents",
     [m(S, "  sys with spaces \n"), m(U, "\n  padded question\t \n"), m(A, "  padded answer  \n\n"),
      m(U, "\u3000full-width space\u00a0")]),
    ("multi-line contents", [m(U, "line one\nline two\n\nline four"), m(A, "a\nb\n")]),
    ("think in assistant history",
     [m(U, "2+3?"), m(A, "<think>\nadd them\n</think>\n\n5"), m(U, "and 2+4?")]),
    ("system only", [m(S, "Just a system prompt.")]),
    ("special-looking text", [m(U, "<start_of_turn> <|im_end|> [INST] {content} {{ x }}"), m(A, "ok")]),
    ("two users in a row", [m(U, "first"), m(U, "second")]),
    ("system not first", [m(U, "Hi"), m(A, "Hello"), m(S, "Late system."), m(U, "Bye")]),
    ("assistant first", [m(A, "I speak first."), m(U, "ok")]),
    ("system in the middle", [m(U, "Hi"), m(S, "Mid system."), m(U, "Bye")]),
]


def shown_content(name, role, content):
    """The bytes of a message's content as the template writes them (an independent Python rule)."""
    if name in TRIMS and not (name == "gemma" and role == S):
        return content.strip()
    if name == "deepseek" and role == A and "</think>" in content:
        return content.split("</think>")[-1]
    return content


def render(template, conv, gen, specials):
    out = render_jinja_template(conversations=[conv], chat_template=template, add_generation_prompt=gen,
                                **specials)
    return out[0][0] if isinstance(out, tuple) else out[0]


def excerpt(text):
    """Short windows (the marker and up to 8 characters each side) around each detection marker, joined
    by " ... ": enough to test detection, far from the whole template."""
    spans = []
    for k in MARKERS:
        at = text.find(k)
        while at >= 0:
            spans.append((max(0, at - 8), min(len(text), at + len(k) + 8)))
            at = text.find(k, at + 1)
    spans.sort()
    merged = []
    for b, e in spans:
        if merged and b <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((b, e))
    return " ... ".join(text[b:e] for b, e in merged[:24])


def main(argv):
    out_path = "tests/fixtures/chat_templates.json"
    paths = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--out":
            out_path = argv[i + 1]
            i += 2
            continue
        name, _, path = a.partition("=")
        if name not in SPECIALS or not path:
            sys.exit(f"usage: {__doc__}\nunknown argument {a!r}")
        paths[name] = path
        i += 1
    missing = set(SPECIALS) - set(paths)
    if missing:
        sys.exit(f"missing template paths for: {sorted(missing)}")

    templates = []
    for name in SPECIALS:
        with open(paths[name], encoding="utf-8") as f:
            text = f.read()
        specials = SPECIALS[name]
        cases = []
        for title, conv in CONVERSATIONS:
            for gen in (False, True):
                case = {"title": title, "add_generation_prompt": gen, "messages": conv}
                try:
                    full = render(text, conv, gen, specials)
                except jinja2.exceptions.TemplateError as e:
                    case["error"] = str(e)
                    cases.append(case)
                    continue
                case["expected"] = full
                shown, turn_end = [], []
                roles = [x["role"] for x in conv]
                for k, msg in enumerate(conv):
                    dropped = (name in ("gemma", "mistral") and roles == [S]) or \
                              (name == "deepseek" and msg["role"] == S and S in roles[k + 1:])
                    shown.append(None if dropped else shown_content(name, msg["role"], msg["content"]))
                    end = None
                    if msg["role"] == A:
                        try:
                            part = render(text, conv[: k + 1], False, specials)
                            if full.startswith(part):
                                end = len(part.encode("utf-8"))
                        except jinja2.exceptions.TemplateError:
                            pass
                    turn_end.append(end)
                case["shown"] = shown
                case["turn_end"] = turn_end
                cases.append(case)
        templates.append({"name": name, "source": SOURCES[name],
                          "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                          "chars": len(text), "excerpt": excerpt(text), "specials": specials, "eot": EOTS[name],
                          "cases": cases})
    doc = {"generator": "tests/ref/make_chat_fixture.py",
           "renderer": "transformers.utils.chat_template_utils.render_jinja_template",
           "transformers": transformers.__version__, "jinja2": jinja2.__version__,
           "note": "shown: null for a message the template drops; turn_end: byte length of the rendering of messages[:k+1] (assistant messages only, "
                   "null where not a prefix of the whole); shown: content as the template writes it",
           "templates": templates}
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n = sum(len(t["cases"]) for t in templates)
    ne = sum(1 for t in templates for c in t["cases"] if "error" in c)
    print(f"wrote {out_path}: {len(templates)} templates, {n} cases ({ne} raise)")


if __name__ == "__main__":
    main(sys.argv[1:])
