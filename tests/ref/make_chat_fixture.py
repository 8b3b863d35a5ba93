#!/usr/bin/env python3
"""make_chat_fixture.py: reference renderings of chat templates, written once and
committed as tests/fixtures/chat_templates.jsonl; tests/unit/test_chat_template.c
compares hone's built-in renderers byte for byte (and checks the message spans).

Rendering is done as transformers' apply_chat_template does it: a jinja2 sandboxed
environment with trim_blocks and lstrip_blocks, raise_exception, the messages,
bos_token/eos_token and add_generation_prompt.

Templates: "chatml-smollm2" is the one embedded in the SmolLM2 GGUF
(tokenizer.chat_template, read from the file); "gemma" (Gemma 3 instruct),
"llama3" (Meta Llama 3 instruct), "mistral" (Mistral 7B Instruct v0.1),
"deepseek" (DeepSeek-R1 distills, without the tool-call branches) and
"chatml" are transcriptions of those models' published tokenizer_config.json
templates (the GGUFs on this machine do not embed them: the Gemma 3 GGUF has no
tokenizer.chat_template); "seed" and "raw" are hone's own definitions.

Needs: pip install jinja2 gguf numpy.   Run: python tests/ref/make_chat_fixture.py MODELS_DIR
"""
import json
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}"
          "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
          "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
           "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
           "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
           "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
           "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
           "roles are supported!') }}{% endif %}{% endfor %}")

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
          " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\n' }}{% endif %}")

SEED = ("{%- if messages and messages[0]['role'] == 'system' -%}{%- set p = messages[0]['content'] + '\n\n' -%}"
        "{%- set ms = messages[1:] -%}{%- else -%}{%- set p = '' -%}{%- set ms = messages -%}{%- endif -%}"
        "{%- for m in ms -%}{%- if not loop.first -%}{{ '\n' }}{%- endif -%}"
        "{{ bos_token + ('model' if m['role'] == 'assistant' else 'user') + '\n' + (p if loop.first else '')"
        " + m['content'] + eos_token }}{%- endfor -%}"
        "{%- if add_generation_prompt -%}{%- if ms -%}{{ '\n' }}{%- endif -%}{{ bos_token + 'model\n' }}{%- endif -%}")

DEEPSEEK_R1 = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
               "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
               "{%- for message in messages %}{%- if message['role'] == 'system' %}"
               "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
               "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}"
               "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}"
               "{{'<｜User｜>' + message['content']}}{%- endif %}"
               "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
               "{% set content = message['content'] %}{% if '</think>' in content %}"
               "{% set content = content.split('</think>')[-1] %}{% endif %}"
               "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}"
               "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %}")

RAW = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

CONVS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Q1"},
     {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
     {"role": "assistant", "content": "A2"}],
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}],
    [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
    [{"role": "user", "content": "  padded with spaces\n\n"}, {"role": "assistant", "content": "\tok \u3000"}],
    [{"role": "user", "content": "Привет! Как дела? 你好 🚀"}, {"role": "assistant", "content": "Хорошо, спасибо."}],
    [{"role": "system", "content": "Réponds en français.\n"}, {"role": "user", "content": "Bonjour"},
     {"role": "assistant", "content": "Salut !"}],
    [{"role": "user", "content": "line1\nline2\n\nline4"}, {"role": "assistant", "content": "a\nb"},
     {"role": "user", "content": "<b>html</b> & {{ braces }}"}],
    [{"role": "user", "content": "Think first."},
     {"role": "assistant", "content": "<think>\nhidden reasoning\n</think>\n\nThe answer."},
     {"role": "user", "content": "Thanks"}],
]


def env():
    e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                      extensions=["jinja2.ext.loopcontrols"])

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)
    e.globals["raise_exception"] = raise_exception
    return e


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "models"
    import gguf
    r = gguf.GGUFReader(f"{d}/SmolLM2-135M-Instruct.Q4_1.gguf")
    smol = bytes(r.fields["tokenizer.chat_template"].parts[-1]).decode()
    templates = [  # name, hone template, jinja, bos, eos, accepts a system message
        ("gemma", "gemma", GEMMA3, "<bos>", "<eos>", True),
        ("llama3", "llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>", True),
        ("mistral", "mistral", MISTRAL, "<s>", "</s>", False),
        ("chatml", "chatml", CHATML, "<bos>", "<eos>", True),
        ("chatml-smollm2", "chatml", smol, "<|im_start|>", "<|im_end|>", True),
        ("seed", "seed", SEED, "<bos>", "<eos>", True),
        ("raw", "raw", RAW, "<bos>", "<eos>", True),
        ("deepseek", "deepseek", DEEPSEEK_R1, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", True),
    ]
    e = env()
    n = 0
    with open("tests/fixtures/chat_templates.jsonl", "w", encoding="utf-8") as f:
        for label, hone_name, src, bos, eos, sys_ok in templates:
            t = e.from_string(src)
            for conv in CONVS:
                if not sys_ok and conv[0]["role"] == "system":
                    continue
                for gen in (False, True):
                    text = t.render(messages=conv, add_generation_prompt=gen, bos_token=bos, eos_token=eos)
                    f.write(json.dumps({"label": label, "template": hone_name, "bos": bos, "eos": eos,
                                        "messages": conv, "gen": gen, "text": text},
                                       ensure_ascii=False) + "\n")
                    n += 1
    print(f"chat_templates.jsonl: {n} renderings")


if __name__ == "__main__":
    main()
