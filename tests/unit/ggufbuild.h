/* ggufbuild.h: writes tiny GGUF files byte by byte for tests (header, a few
 * metadata values, F32 tensor infos, padding, zeroed data), independent of
 * the library's writer. The caller states the counts up front, as the format does. */
#ifndef HONE_TEST_GGUFBUILD_H
#define HONE_TEST_GGUFBUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gb {
    uint8_t *p;
    size_t n, cap;
} gb;

static inline void gb_put(gb *b, const void *x, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}
static inline void gb_u32(gb *b, uint32_t v) { gb_put(b, &v, 4); }
static inline void gb_u64(gb *b, uint64_t v) { gb_put(b, &v, 8); }
static inline void gb_str(gb *b, const char *s) {
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}
static inline void gb_begin(gb *b, uint64_t n_tensors, uint64_t n_kv) {
    memset(b, 0, sizeof *b);
    gb_put(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}
static inline void gb_kv_str(gb *b, const char *k, const char *v) {
    gb_str(b, k);
    gb_u32(b, 8);
    gb_str(b, v);
}
static inline void gb_kv_u32(gb *b, const char *k, uint32_t v) {
    gb_str(b, k);
    gb_u32(b, 4);
    gb_u32(b, v);
}
static inline void gb_kv_f32(gb *b, const char *k, float v) {
    gb_str(b, k);
    gb_u32(b, 6);
    gb_put(b, &v, 4);
}
static inline void gb_kv_strs(gb *b, const char *k, const char **v, uint64_t n) {
    gb_str(b, k);
    gb_u32(b, 9);
    gb_u32(b, 8);
    gb_u64(b, n);
    for (uint64_t i = 0; i < n; i++) gb_str(b, v[i]);
}
/* A 2-d F32 tensor info (ne0 x ne1) at data offset off. */
static inline void gb_tensor_f32(gb *b, const char *name, uint64_t ne0, uint64_t ne1, uint64_t off) {
    gb_str(b, name);
    gb_u32(b, 2);
    gb_u64(b, ne0);
    gb_u64(b, ne1);
    gb_u32(b, 0);
    gb_u64(b, off);
}
/* Pads to 32 and appends n zero bytes of tensor data. */
static inline void gb_data(gb *b, size_t n) {
    static const uint8_t z[64];
    while (b->n % 32) gb_put(b, z, 1);
    while (n) {
        size_t k = n < 64 ? n : 64;
        gb_put(b, z, k);
        n -= k;
    }
}

#endif
