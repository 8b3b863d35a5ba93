/* fuzz_tokenize.c: libFuzzer target for encode/decode on real vocabularies
 * (llama.cpp's test vocabularies: SPM llama-spm, byte-level gpt-2, deepseek-llm,
 * starcoder, found in $HONE_TESTDATA/tokenizer or ../shared/testdata/tokenizer;
 * absent: every input is a no-op). Byte 0 of the input picks the vocabulary and
 * the flags, the rest is the text (any bytes). Checked: no crash or sanitizer
 * report; decode succeeds on every id encode returns; the streaming decoder gives
 * exactly decode's bytes; without HONE_TOK_SPECIAL, text of valid bytes the
 * vocabulary can represent round-trips unless it holds special-token text or
 * U+2581 (documented exceptions), so only the weaker invariants are asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

static const char *NAMES[] = {"llama-spm", "gpt-2", "deepseek-llm", "starcoder", "phi-3"};
#define N_VOCAB (sizeof NAMES / sizeof NAMES[0])
static hone_gguf *g_gguf[N_VOCAB];
static hone_tok *g_tok[N_VOCAB];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *e = getenv("HONE_TESTDATA");
    for (size_t i = 0; i < N_VOCAB; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tokenizer/ggml-vocab-%s.gguf", e ? e : "../shared/testdata", NAMES[i]);
        hone_err err = {0};
        if (hone_gguf_open(&g_gguf[i], p, &err) != HONE_OK) continue;
        if (hone_tok_load_gguf(&g_tok[i], g_gguf[i], &err) != HONE_OK) {
            fprintf(stderr, "fuzz_tokenize: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    hone_tok *t = g_tok[data[0] % N_VOCAB];
    if (!t) return 0;
    unsigned flags = (data[0] >> 4) & (HONE_TOK_SPECIAL | HONE_TOK_BOS);
    hone_err err = {0};
    int32_t *ids;
    size_t n;
    if (hone_tok_encode(t, (const char *)data + 1, size - 1, flags, &ids, &n, &err) != HONE_OK) abort();
    char *d;
    size_t dn;
    if (hone_tok_decode(t, ids, n, flags & HONE_TOK_SPECIAL, &d, &dn, &err) != HONE_OK) abort();
    size_t cap = hone_tok_max_bytes(t) + 4, total = 0;
    char *chunk = malloc(cap), *acc = malloc(dn + 4);
    hone_tok_stream st;
    hone_tok_stream_init(&st, t, flags & HONE_TOK_SPECIAL);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (hone_tok_stream_push(&st, ids[i], chunk, cap, &k, &err) != HONE_OK) abort();
        if (total + k > dn) abort();
        memcpy(acc + total, chunk, k);
        total += k;
    }
    char tail[4];
    size_t k = hone_tok_stream_flush(&st, tail);
    if (total + k != dn) abort();
    memcpy(acc + total, tail, k);
    if (memcmp(acc, d, dn)) abort();
    free(chunk);
    free(acc);
    free(d);
    free(ids);
    return 0;
}
