/* fuzz_gguf.c: libFuzzer target for the GGUF reader (src/io/gguf.c).
 *
 * Opens the input with hone_gguf_open_mem. A refused input must come back as
 * HONE_EFORMAT (or ENOMEM) with a one-line message naming "byte N". An accepted
 * one is walked through every public accessor: each key and value (every array
 * element, every string byte), the convenience lookups, and every tensor's
 * name, shape, offset and size; the first and last byte of each tensor's data
 * are read through hone_gguf_tensor_data, so ASan proves the reader's bounds.
 * The input is copied into an exact-size heap buffer first: a read one byte
 * past the end is then an ASan error, not a silent read of libFuzzer's slack.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

static volatile uint64_t sink; /* keeps reads from being optimised away */

static void touch(const void *p, uint64_t n) {
    const uint8_t *b = p;
    if (!n) return;
    sink += b[0] + b[n - 1];
}

static void touch_str(hone_str s) {
    uint64_t h = 0;
    for (uint64_t k = 0; k < s.len; k++) h = h * 31 + (uint8_t)s.ptr[k];
    sink += h;
}

static void check_err(const hone_err *err, int rc) {
    if (rc != HONE_EFORMAT && rc != HONE_ENOMEM) {
        fprintf(stderr, "unexpected return code %d: %s\n", rc, err->msg);
        abort();
    }
    if (err->code != rc || strchr(err->msg, '\n') || (rc == HONE_EFORMAT && !strstr(err->msg, "byte "))) {
        fprintf(stderr, "bad error message (code %d, rc %d): '%s'\n", err->code, rc, err->msg);
        abort();
    }
}

static void walk(const hone_gguf *g) {
    uint32_t ver = hone_gguf_version(g);
    if (ver != 2 && ver != 3) abort();
    uint64_t align = hone_gguf_alignment(g), size = hone_gguf_file_size(g);
    uint64_t doff = hone_gguf_data_offset(g);
    if (!align || (align & (align - 1)) || doff > size) abort();
    sink += (uintptr_t)hone_gguf_path(g);

    int64_t n_kv = hone_gguf_n_kv(g);
    for (int64_t i = 0; i < n_kv; i++) {
        hone_str key = hone_gguf_kv_key(g, i);
        touch_str(key);
        /* lookups by name: keys may hold NUL bytes, so only those without */
        if (key.len < 256 && !memchr(key.ptr, 0, key.len)) {
            char name[256];
            memcpy(name, key.ptr, key.len);
            name[key.len] = 0;
            if (hone_gguf_find_key(g, name) != i) abort();
            uint32_t u;
            float f;
            hone_str s;
            if (hone_gguf_get_u32(g, name, &u) == HONE_OK) sink += u;
            if (hone_gguf_get_f32(g, name, &f) == HONE_OK) sink += (uint64_t)(f == f);
            if (hone_gguf_get_str(g, name, &s) == HONE_OK) touch_str(s);
        }
        hone_gguf_vtype t = hone_gguf_kv_type(g, i);
        if (!hone_gguf_vtype_name((int)t)) abort();
        sink += hone_gguf_kv_u64(g, i) + (uint64_t)hone_gguf_kv_i64(g, i);
        double d = hone_gguf_kv_f64(g, i);
        sink += (uint64_t)(d == d);
        if (t == HONE_GGUF_STRING) touch_str(hone_gguf_kv_str(g, i));
        if (t != HONE_GGUF_ARRAY) continue;
        hone_gguf_vtype at = hone_gguf_arr_type(g, i);
        uint64_t n = hone_gguf_arr_n(g, i);
        if (!hone_gguf_vtype_name((int)at) || at == HONE_GGUF_ARRAY) abort();
        const void *raw = hone_gguf_arr_data(g, i);
        if (n && !raw) abort();
        for (uint64_t j = 0; j < n; j++) {
            if (at == HONE_GGUF_STRING) {
                hone_str s = hone_gguf_arr_str(g, i, j);
                if (s.len && !s.ptr) abort();
                touch_str(s);
            } else {
                double v = hone_gguf_arr_f64(g, i, j);
                sink += (uint64_t)(v == v);
            }
        }
        /* out of range element access must be refused, not read */
        if (hone_gguf_arr_str(g, i, n).ptr) abort();
        sink += (uint64_t)hone_gguf_arr_f64(g, i, n);
    }

    int64_t n_t = hone_gguf_n_tensors(g);
    for (int64_t t = 0; t < n_t; t++) {
        hone_str name = hone_gguf_tensor_name(g, t);
        touch_str(name);
        if (name.len && name.len < 64 && !memchr(name.ptr, 0, name.len)) {
            char buf[64];
            memcpy(buf, name.ptr, name.len);
            buf[name.len] = 0;
            if (hone_gguf_find_tensor(g, buf) != t) abort();
        }
        int type = hone_gguf_tensor_type(g, t);
        if (!hone_dtype_name(type)) abort();
        uint32_t nd = hone_gguf_tensor_ndim(g, t);
        if (nd < 1 || nd > 4) abort();
        uint64_t ne[4], nel = 1;
        hone_gguf_tensor_shape(g, t, ne);
        for (int d = 0; d < 4; d++) nel *= ne[d];
        if (nel != hone_gguf_tensor_nelem(g, t)) abort();
        uint64_t off = hone_gguf_tensor_offset(g, t), nb = hone_gguf_tensor_nbytes(g, t);
        if (off % align || off > size - doff || nb > size - doff - off) abort();
        if (nb != hone_dtype_row_bytes(type, ne[0]) * (ne[0] ? nel / ne[0] : 0)) abort();
        touch(hone_gguf_tensor_data(g, t), nb);
    }
    sink += (uint64_t)hone_gguf_find_key(g, "general.architecture");
    sink += (uint64_t)hone_gguf_find_tensor(g, "token_embd.weight");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    hone_gguf *g = NULL;
    hone_err err = {0};
    int rc = hone_gguf_open_mem(&g, copy, size, "fuzz.gguf", &err);
    if (rc == HONE_OK) {
        walk(g);
        hone_gguf_close(g);
    } else {
        if (g) abort();
        check_err(&err, rc);
    }
    free(copy);
    return 0;
}
