/* fuzz_safetensors.c: libFuzzer target for the safetensors reader
 * (src/io/safetensors.c).
 *
 * Opens the input with hone_st_open_mem. A refused input must come back as
 * EFORMAT, EUNSUPPORTED or ENOMEM with a one-line message naming the file. An
 * accepted one is walked through every accessor: names (looked up again by
 * name), dtypes, shapes (element count re-multiplied), and the first and last
 * byte of every tensor's data, so ASan proves the extent checks. The input is
 * copied into an exact-size heap buffer first, so a read one byte past the end
 * is an ASan error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    hone_st *st;
    hone_err err = {0};
    int rc = hone_st_open_mem(&st, buf, size, "<fuzz>", &err);
    if (rc) {
        if ((rc != HONE_EFORMAT && rc != HONE_EUNSUPPORTED && rc != HONE_ENOMEM) || err.code != rc ||
            strchr(err.msg, '\n') || !strstr(err.msg, "<fuzz>")) {
            fprintf(stderr, "bad failure (rc %d, code %d): '%s'\n", rc, err.code, err.msg);
            abort();
        }
        free(buf);
        return 0;
    }
    for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
        const char *name = hone_st_tensor_name(st, t);
        if (hone_st_find(st, name) != t) abort();
        int dt = hone_st_tensor_dtype(st, t);
        if (!hone_st_dtype_str(dt)) abort();
        uint64_t n = 1;
        for (uint32_t k = 0; k < hone_st_tensor_ndim(st, t); k++) n *= hone_st_tensor_shape(st, t)[k];
        if (n != hone_st_tensor_nelem(st, t) || n * hone_st_dtype_size(dt) != hone_st_tensor_nbytes(st, t))
            abort();
        uint64_t nb = hone_st_tensor_nbytes(st, t);
        const uint8_t *p = hone_st_tensor_data(st, t);
        if (nb) sink += p[0] + p[nb - 1];
        if (t > 0 && hone_st_tensor_offset(st, t) < hone_st_tensor_offset(st, t - 1)) abort();
    }
    for (int64_t i = 0; i < hone_st_n_meta(st); i++)
        sink += strlen(hone_st_meta_key(st, i)) + strlen(hone_st_meta_value(st, i));
    hone_st_close(st);
    free(buf);
    return 0;
}
