/* arch.c: the architecture table (see arch.h). Facts: transformers'
 * Gemma3TextConfig, LlamaConfig, MistralConfig and Qwen2Config defaults;
 * llama.cpp's GGUF architecture names. */
#include "model/arch.h"

#include <string.h>

static const arch_info ARCHS[] = {
    {HONE_ARCH_GEMMA3, "gemma3", {"gemma3", "gemma3_text"},
     {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"}, {"gemma3"},
     HONE_ACT_GELU_TANH, 1, 1, 1, 0, 1.0f,
     {262208, 2304, 9216, 26, 8, 4, 256, 131072, 1e-6f, 1e6f, 1e4f, 1, 4096, 6, 256}},
    {HONE_ARCH_LLAMA, "llama", {"llama"}, {"LlamaForCausalLM"}, {"llama"},
     HONE_ACT_SILU, 0, 0, 0, 0, 0.0f,
     {32000, 4096, 11008, 32, 32, 0, 0, 2048, 1e-6f, 1e4f, 0, 0, 0, 0, 0}},
    {HONE_ARCH_MISTRAL, "mistral", {"mistral"}, {"MistralForCausalLM"}, {"mistral"},
     HONE_ACT_SILU, 0, 0, 0, 0, 0.0f,
     {32000, 4096, 14336, 32, 32, 8, 0, 131072, 1e-6f, 1e4f, 0, 0, 4096, 0, 0}},
    {HONE_ARCH_QWEN2, "qwen2", {"qwen2"}, {"Qwen2ForCausalLM"}, {"qwen2"},
     HONE_ACT_SILU, 0, 0, 0, 1, 0.0f,
     {151936, 4096, 22016, 32, 32, 32, 0, 32768, 1e-6f, 1e4f, 0, 0, 4096, 0, 0}},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

const char *hone_arch_name(hone_arch a) {
    const arch_info *ai = arch_by_id(a);
    return ai ? ai->name : "unknown";
}

const arch_info *arch_by_id(hone_arch a) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (ARCHS[i].arch == a) return &ARCHS[i];
    return NULL;
}

const arch_info *arch_by_hf_type(const char *t) {
    for (size_t i = 0; i < N_ARCHS; i++)
        for (int j = 0; j < 3 && ARCHS[i].hf_types[j]; j++)
            if (!strcmp(ARCHS[i].hf_types[j], t)) return &ARCHS[i];
    return NULL;
}

const arch_info *arch_by_hf_class(const char *c) {
    for (size_t i = 0; i < N_ARCHS; i++)
        for (int j = 0; j < 3 && ARCHS[i].hf_classes[j]; j++)
            if (!strcmp(ARCHS[i].hf_classes[j], c)) return &ARCHS[i];
    return NULL;
}

const arch_info *arch_by_gguf_name(const char *n, size_t len) {
    for (size_t i = 0; i < N_ARCHS; i++)
        for (int j = 0; j < 2 && ARCHS[i].gguf_names[j]; j++)
            if (strlen(ARCHS[i].gguf_names[j]) == len && !memcmp(ARCHS[i].gguf_names[j], n, len))
                return &ARCHS[i];
    return NULL;
}

const char *arch_known_list(void) { return "gemma3, llama, mistral, qwen2"; }
