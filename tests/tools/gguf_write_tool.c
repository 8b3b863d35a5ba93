/* gguf_write_tool.c: drives the GGUF writer for tests/interop/test_gguf_write_ggufpy.py.
 *   gguf_write_tool copy IN OUT   read IN with hone, copy metadata and tensors, write OUT
 *   gguf_write_tool demo OUT      write a small file with every value type and a few tensors
 *                                 (the Python test builds the same file with gguf-py's
 *                                 GGUFWriter; keep the two in step)
 * Prints the error and exits 1 on failure. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hone.h"

static int copy(const char *in, const char *out, hone_err *err) {
    hone_gguf *g;
    int rc = hone_gguf_open(&g, in, err);
    if (rc) return rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hone_gguf_writer *w;
    rc = hone_gguf_writer_init(&w, err);
    if (!rc) rc = hone_gguf_writer_copy(w, g, HONE_GGUF_COPY_KV | HONE_GGUF_COPY_TENSORS, err);
    if (!rc) rc = hone_gguf_writer_write(w, out, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        fprintf(stderr, "gguf_write_tool: %s -> %s: %llu bytes in %.2f s\n", in, out,
                (unsigned long long)hone_gguf_writer_file_size(w),
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    hone_gguf_writer_free(w);
    hone_gguf_close(g);
    return rc;
}

static int demo(const char *out, hone_err *err) {
    hone_gguf_writer *w;
    int rc = hone_gguf_writer_init(&w, err);
    if (rc) return rc;
    static const uint16_t au16[] = {1, 2, 65535};
    static const int64_t ai64[] = {-5, 1ll << 40};
    static const float af32[] = {0.5f, -1.25f, 3e-8f};
    static const double af64[] = {1e100, -0.0};
    static const uint8_t abool[] = {1, 0};
    static const int8_t ai8[] = {-1, 2, -3};
    const char *toks[] = {"<pad>", "h\xc3\xa9llo", "", "\xe2\x96\x81world"};
    float f32[4 * 3];
    for (int i = 0; i < 12; i++) f32[i] = (float)i / 8.0f - 0.75f;
    static const uint16_t f16[5] = {0x3c00, 0xc000, 0x0000, 0x7bff, 0x0400};
    static uint8_t q8[2 * 34];
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i * 29 + 3);
    static const int32_t i32[2 * 2 * 2] = {1, -2, 3, -4, 5, -6, 7, -8};
    int r = 0;
    r |= hone_gguf_writer_add_str(w, "general.architecture", "llama", err);
    r |= hone_gguf_writer_add_u8(w, "demo.u8", 200, err);
    r |= hone_gguf_writer_add_i8(w, "demo.i8", -100, err);
    r |= hone_gguf_writer_add_u16(w, "demo.u16", 60000, err);
    r |= hone_gguf_writer_add_i16(w, "demo.i16", -30000, err);
    r |= hone_gguf_writer_add_u32(w, "demo.u32", 3000000000u, err);
    r |= hone_gguf_writer_add_i32(w, "demo.i32", -2000000000, err);
    r |= hone_gguf_writer_add_u64(w, "demo.u64", 10000000000000000000ull, err);
    r |= hone_gguf_writer_add_i64(w, "demo.i64", -4000000000000ll, err);
    r |= hone_gguf_writer_add_f32(w, "demo.f32", 0.1f, err);
    r |= hone_gguf_writer_add_f64(w, "demo.f64", 0.1, err);
    r |= hone_gguf_writer_add_bool(w, "demo.bool", 1, err);
    r |= hone_gguf_writer_add_str(w, "demo.str", "caf\xc3\xa9", err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_u16", HONE_GGUF_UINT16, au16, 3, err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_i64", HONE_GGUF_INT64, ai64, 2, err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_f32", HONE_GGUF_FLOAT32, af32, 3, err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_f64", HONE_GGUF_FLOAT64, af64, 2, err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_bool", HONE_GGUF_BOOL, abool, 2, err);
    r |= hone_gguf_writer_add_arr(w, "demo.arr_i8", HONE_GGUF_INT8, ai8, 3, err);
    r |= hone_gguf_writer_add_arr_str(w, "demo.arr_str", toks, 4, err);
    r |= hone_gguf_writer_set_alignment(w, 64, err);
    r |= hone_gguf_writer_add_tensor(w, "t.f32", HONE_F32, 2, (uint64_t[]){4, 3}, f32, err);
    r |= hone_gguf_writer_add_tensor(w, "t.f16", HONE_F16, 1, (uint64_t[]){5}, f16, err);
    r |= hone_gguf_writer_add_tensor(w, "t.q8_0", HONE_Q8_0, 2, (uint64_t[]){32, 2}, q8, err);
    r |= hone_gguf_writer_add_tensor(w, "t.i32", HONE_I32, 3, (uint64_t[]){2, 2, 2}, i32, err);
    rc = r ? (err->code ? err->code : HONE_EARG) : hone_gguf_writer_write(w, out, err);
    hone_gguf_writer_free(w);
    return rc;
}

int main(int argc, char **argv) {
    hone_err err = {0};
    int rc;
    if (argc == 4 && strcmp(argv[1], "copy") == 0)
        rc = copy(argv[2], argv[3], &err);
    else if (argc == 3 && strcmp(argv[1], "demo") == 0)
        rc = demo(argv[2], &err);
    else {
        fprintf(stderr, "usage: gguf_write_tool copy IN OUT | demo OUT\n");
        return 2;
    }
    if (rc) {
        fprintf(stderr, "gguf_write_tool: %s\n", err.msg);
        return 1;
    }
    return 0;
}
