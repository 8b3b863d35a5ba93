/* fuzz_tokjson.c: libFuzzer target for the tokenizer.json loader
 * (hone_tok_load_hf_mem): any bytes as tokenizer.json must give HONE_OK or an
 * error, never a crash, leak or sanitizer report; a tokenizer that loads must
 * encode and decode a fixed mixed-script string. Seeds: tests/corpus/tokjson/
 * (the three small tokenizer.json of tests/fixtures/hf_tok and broken variants). */
#include <stdlib.h>
#include <string.h>

#include "hone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hone_err err = {0};
    hone_tok *t;
    if (hone_tok_load_hf_mem(&t, (const char *)data, size, NULL, 0, &err) != HONE_OK) return 0;
    static const char text[] = "Hello, world! 123 Привет 你好 🚀 <|im_end|> \xff\xfe tail";
    int32_t *ids;
    size_t n;
    for (unsigned flags = 0; flags < 2; flags++) {
        if (hone_tok_encode(t, text, sizeof text - 1, flags, &ids, &n, &err) != HONE_OK) abort();
        char *d;
        size_t dn;
        if (hone_tok_decode(t, ids, n, flags, &d, &dn, &err) != HONE_OK) abort();
        free(d);
        free(ids);
    }
    hone_tok_free(t);
    return 0;
}
