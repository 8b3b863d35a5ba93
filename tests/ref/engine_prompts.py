"""engine_prompts.py: the prompt texts shared by make_engine_fixture.py and
make_engine_llamacpp.py (imported by both; not a script).

Five prompts per real model: English prose, C code, Russian/Chinese, a chat-formatted
prompt in the model's own turn format (special tokens written as text and parsed as
specials), and a long one (> 600 tokens for both tokenizers, so Gemma 3's 512-token
sliding window matters) made of the first LONG_PARAGRAPHS paragraphs of
tests/fixtures/engine/ppl_text.txt. All texts are original to this project.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PPL_TEXT = os.path.join(HERE, "..", "fixtures", "engine", "ppl_text.txt")
LONG_PARAGRAPHS = 7

PROSE = ("The old bridge over the river had seven arches, and on winter mornings the fog "
         "filled all of them at once, so that the town seemed to float on a cloud. "
         "Children walking to school counted the arches aloud, and the number was always")

CODE = """/* Return the index of the largest element of x[0..n), or -1 if n == 0. */
static long argmax_f32(const float *x, long n)
{
    if (n == 0)
        return -1;
    long best = 0;
    for (long i = 1; i < n; i++) {
        if (x[i] > x[best])
"""

MULTI = ("Зимой в нашей деревне рано темнеет, и к пяти часам вечера на улице уже горят фонари. "
         "Бабушка ставит самовар и рассказывает о том, как раньше\n"
         "北京的秋天天气晴朗，人们喜欢在公园里散步。我的朋友每天早上六点起床，然后")

CHAT_USER = ("I have three apples and I give one to my sister. Then my neighbour gives me "
             "two pears. How many pieces of fruit do I have now? Explain briefly.")

CHAT = {
    "gemma3": "<start_of_turn>user\n" + CHAT_USER + "<end_of_turn>\n<start_of_turn>model\n",
    "llama": ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
              "Hugging Face<|im_end|>\n<|im_start|>user\n" + CHAT_USER +
              "<|im_end|>\n<|im_start|>assistant\n"),
}


def long_text():
    with open(PPL_TEXT, encoding="utf-8") as f:
        paras = [p for p in f.read().split("\n\n") if p.strip()]
    return "\n\n".join(paras[:LONG_PARAGRAPHS])


def prompts(arch):
    """[(name, text)] for arch 'gemma3' or 'llama' (SmolLM2's chat format)."""
    return [("prose", PROSE), ("code", CODE), ("multilingual", MULTI),
            ("chat", CHAT[arch]), ("long", long_text())]
