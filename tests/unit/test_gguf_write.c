/* test_gguf_write.c: the GGUF writer, checked by reading its files back with hone's reader.
 *
 * - every value type (scalars, strings, numeric and string arrays) comes back with the same
 *   type and the same bytes; tensors (pointer and streamed) with the same shape, type and
 *   bytes, at offsets aligned as asked; the file has the size the writer predicted;
 * - misuse (long or duplicate names, bad alignment, wrong byte counts) is refused and leaves
 *   no file behind;
 * - the two real models, read -> copied -> written -> read, give identical metadata, tensor
 *   infos and tensor bytes, and (since both were written by llama.cpp/gguf-py with the same
 *   layout rules) a byte-identical file.
 * Comparisons are exact (memcmp): the writer copies bytes and must not change any.
 */
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"
#include "util/fileio.h" /* hone_map, hone_file_read_all: whole-file comparisons */

static char *tmp_path(const char *tag) {
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/hone-test-gw-%ld-%s.gguf", (long)getpid(), tag);
    return p;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* Exact comparison of two open GGUF files: metadata (order, keys, types, values) and tensors
 * (order, names, types, dims, shapes, bytes). */
static void assert_gguf_equal(const hone_gguf *a, const hone_gguf *b) {
    assert_int_equal(hone_gguf_n_kv(a), hone_gguf_n_kv(b));
    assert_int_equal(hone_gguf_alignment(a), hone_gguf_alignment(b));
    for (int64_t i = 0; i < hone_gguf_n_kv(a); i++) {
        hone_str ka = hone_gguf_kv_key(a, i), kb = hone_gguf_kv_key(b, i);
        assert_int_equal(ka.len, kb.len);
        assert_memory_equal(ka.ptr, kb.ptr, ka.len);
        hone_gguf_vtype t = hone_gguf_kv_type(a, i);
        assert_int_equal(t, hone_gguf_kv_type(b, i));
        if (t == HONE_GGUF_STRING) {
            hone_str sa = hone_gguf_kv_str(a, i), sb = hone_gguf_kv_str(b, i);
            assert_int_equal(sa.len, sb.len);
            if (sa.len) assert_memory_equal(sa.ptr, sb.ptr, sa.len);
        } else if (t == HONE_GGUF_ARRAY) {
            hone_gguf_vtype et = hone_gguf_arr_type(a, i);
            uint64_t n = hone_gguf_arr_n(a, i);
            assert_int_equal(et, hone_gguf_arr_type(b, i));
            assert_int_equal(n, hone_gguf_arr_n(b, i));
            if (et == HONE_GGUF_STRING) {
                for (uint64_t j = 0; j < n; j++) {
                    hone_str sa = hone_gguf_arr_str(a, i, j), sb = hone_gguf_arr_str(b, i, j);
                    assert_int_equal(sa.len, sb.len);
                    if (sa.len) assert_memory_equal(sa.ptr, sb.ptr, sa.len);
                }
            } else {
                size_t es = et == HONE_GGUF_UINT8 || et == HONE_GGUF_INT8 || et == HONE_GGUF_BOOL ? 1
                          : et == HONE_GGUF_UINT16 || et == HONE_GGUF_INT16 ? 2
                          : et == HONE_GGUF_UINT64 || et == HONE_GGUF_INT64 || et == HONE_GGUF_FLOAT64 ? 8 : 4;
                if (n) assert_memory_equal(hone_gguf_arr_data(a, i), hone_gguf_arr_data(b, i), n * es);
            }
        } else if (t == HONE_GGUF_FLOAT32 || t == HONE_GGUF_FLOAT64) {
            double x = hone_gguf_kv_f64(a, i), y = hone_gguf_kv_f64(b, i);
            assert_memory_equal(&x, &y, sizeof x); /* bitwise, so NaN and -0 count too */
        } else {
            assert_int_equal(hone_gguf_kv_u64(a, i), hone_gguf_kv_u64(b, i));
            assert_int_equal(hone_gguf_kv_i64(a, i), hone_gguf_kv_i64(b, i));
        }
    }
    assert_int_equal(hone_gguf_n_tensors(a), hone_gguf_n_tensors(b));
    for (int64_t i = 0; i < hone_gguf_n_tensors(a); i++) {
        hone_str na = hone_gguf_tensor_name(a, i), nb = hone_gguf_tensor_name(b, i);
        assert_int_equal(na.len, nb.len);
        assert_memory_equal(na.ptr, nb.ptr, na.len);
        assert_int_equal(hone_gguf_tensor_type(a, i), hone_gguf_tensor_type(b, i));
        assert_int_equal(hone_gguf_tensor_ndim(a, i), hone_gguf_tensor_ndim(b, i));
        uint64_t ea[4], eb[4];
        hone_gguf_tensor_shape(a, i, ea);
        hone_gguf_tensor_shape(b, i, eb);
        assert_memory_equal(ea, eb, sizeof ea);
        uint64_t nb_ = hone_gguf_tensor_nbytes(a, i);
        assert_int_equal(nb_, hone_gguf_tensor_nbytes(b, i));
        if (nb_ && memcmp(hone_gguf_tensor_data(a, i), hone_gguf_tensor_data(b, i), nb_) != 0)
            fail_msg("tensor %.*s: bytes differ", (int)na.len, na.ptr);
    }
}

/* ---- a small file with every value type ------------------------------------------- */

typedef struct stream_ctx {
    const uint8_t *bytes;
    size_t n, piece, extra; /* extra: bytes to write beyond n (to test the check) */
} stream_ctx;

static int stream_fill(void *ctx, hone_sink *s, hone_err *err) {
    stream_ctx *c = ctx;
    for (size_t at = 0; at < c->n; at += c->piece) {
        size_t k = c->n - at < c->piece ? c->n - at : c->piece;
        int rc = hone_sink_write(s, c->bytes + at, k, err);
        if (rc) return rc;
    }
    if (c->extra) return hone_sink_write(s, c->bytes, c->extra, err);
    return HONE_OK;
}

static void test_all_types(void **state) {
    hone_err err = {0};
    hone_gguf_writer *w;
    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_str(w, "general.architecture", "llama", &err), &err);
    ASSERT_OK(hone_gguf_writer_add_u8(w, "t.u8", 250, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_i8(w, "t.i8", -120, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_u16(w, "t.u16", 65000, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_i16(w, "t.i16", -32000, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_u32(w, "t.u32", 4000000000u, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_i32(w, "t.i32", -2000000000, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_u64(w, "t.u64", 18000000000000000000ull, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_i64(w, "t.i64", -9000000000000000000ll, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_f32(w, "t.f32", 1e-6f, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_f64(w, "t.f64", -3.141592653589793, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_bool(w, "t.bool", 1, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_str(w, "t.empty", "", &err), &err);
    const char utf[] = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80";
    ASSERT_OK(hone_gguf_writer_add_str(w, "t.utf8", utf, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_strn(w, "t.nul", "a\0b", 3, &err), &err);
    uint8_t au8[] = {0, 1, 255};
    int8_t ai8[] = {-128, 0, 127};
    uint16_t au16[] = {1, 65535};
    int16_t ai16[] = {-32768, 32767};
    uint32_t au32[] = {0, 4294967295u, 7};
    int32_t ai32[] = {-1, 2, -3, 4};
    uint64_t au64[] = {UINT64_MAX, 0};
    int64_t ai64[] = {INT64_MIN, INT64_MAX};
    float af32[] = {0.5f, -0.0f, 1e30f};
    double af64[] = {1e-300, -2.5};
    uint8_t abool[] = {1, 0, 1, 1};
    struct { hone_gguf_vtype t; const void *p; uint64_t n; const char *key; } arrs[] = {
        {HONE_GGUF_UINT8, au8, 3, "a.u8"},    {HONE_GGUF_INT8, ai8, 3, "a.i8"},
        {HONE_GGUF_UINT16, au16, 2, "a.u16"}, {HONE_GGUF_INT16, ai16, 2, "a.i16"},
        {HONE_GGUF_UINT32, au32, 3, "a.u32"}, {HONE_GGUF_INT32, ai32, 4, "a.i32"},
        {HONE_GGUF_UINT64, au64, 2, "a.u64"}, {HONE_GGUF_INT64, ai64, 2, "a.i64"},
        {HONE_GGUF_FLOAT32, af32, 3, "a.f32"}, {HONE_GGUF_FLOAT64, af64, 2, "a.f64"},
        {HONE_GGUF_BOOL, abool, 4, "a.bool"}, {HONE_GGUF_INT32, NULL, 0, "a.empty"},
    };
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++)
        ASSERT_OK(hone_gguf_writer_add_arr(w, arrs[k].key, arrs[k].t, arrs[k].p, arrs[k].n, &err), &err);
    const char *strs[] = {"<s>", "", "\xe2\x96\x81hello", "</s>"};
    ASSERT_OK(hone_gguf_writer_add_arr_str(w, "a.str", strs, 4, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_arr_str(w, "a.str_empty", NULL, 0, &err), &err);
    ASSERT_OK(hone_gguf_writer_set_alignment(w, 64, &err), &err);

    /* tensors: f32 2-D, f16 1-D, Q8_0 3-D (34-byte blocks of 32), i32 4-D streamed */
    float f32[3 * 5];
    for (int i = 0; i < 15; i++) f32[i] = (float)i * 0.25f - 1.0f;
    uint16_t f16[7] = {0x3c00, 0xbc00, 0x0000, 0x8000, 0x7c00, 0x3555, 0x0001};
    uint8_t q8[2 * 3 * 34];
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i * 37 + 11);
    int32_t i32[2 * 3 * 2 * 2];
    for (int i = 0; i < 24; i++) i32[i] = i * 1000003 - 7;
    ASSERT_OK(hone_gguf_writer_add_tensor(w, "w.f32", HONE_F32, 2, (uint64_t[]){5, 3}, f32, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_tensor(w, "w.f16", HONE_F16, 1, (uint64_t[]){7}, f16, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_tensor(w, "w.q8", HONE_Q8_0, 3, (uint64_t[]){32, 3, 2}, q8, &err), &err);
    stream_ctx sc = {(const uint8_t *)i32, sizeof i32, 10, 0};
    ASSERT_OK(hone_gguf_writer_add_tensor_fn(w, "w.i32.streamed", HONE_I32, 4, (uint64_t[]){2, 2, 3, 2},
                                             stream_fill, &sc, &err), &err);
    /* a 63-byte name is the longest allowed */
    char name63[64];
    memset(name63, 'n', 63);
    name63[63] = 0;
    ASSERT_OK(hone_gguf_writer_add_tensor(w, name63, HONE_F32, 1, (uint64_t[]){1}, f32, &err), &err);
    assert_int_equal(hone_gguf_writer_n_tensors(w), 5);

    char *path = tmp_path("types");
    ASSERT_OK(hone_gguf_writer_write(w, path, &err), &err);
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    assert_int_equal(hone_gguf_file_size(g), hone_gguf_writer_file_size(w));
    assert_int_equal(hone_gguf_version(g), 3);
    assert_int_equal(hone_gguf_alignment(g), 64);
    assert_int_equal(hone_gguf_n_kv(g), hone_gguf_writer_n_kv(w));

    /* scalars: type and value */
    struct { const char *key; hone_gguf_vtype t; int64_t i; uint64_t u; } ints[] = {
        {"t.u8", HONE_GGUF_UINT8, 250, 250},       {"t.i8", HONE_GGUF_INT8, -120, 0},
        {"t.u16", HONE_GGUF_UINT16, 65000, 65000}, {"t.i16", HONE_GGUF_INT16, -32000, 0},
        {"t.u32", HONE_GGUF_UINT32, 4000000000ll, 4000000000u}, {"t.i32", HONE_GGUF_INT32, -2000000000, 0},
        {"t.i64", HONE_GGUF_INT64, -9000000000000000000ll, 0}, {"t.bool", HONE_GGUF_BOOL, 1, 1},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        int64_t i = hone_gguf_find_key(g, ints[k].key);
        assert_true(i >= 0);
        assert_int_equal(hone_gguf_kv_type(g, i), ints[k].t);
        assert_int_equal(hone_gguf_kv_i64(g, i), ints[k].i);
    }
    int64_t i = hone_gguf_find_key(g, "t.u64");
    assert_int_equal(hone_gguf_kv_type(g, i), HONE_GGUF_UINT64);
    assert_true(hone_gguf_kv_u64(g, i) == 18000000000000000000ull);
    i = hone_gguf_find_key(g, "t.f32");
    assert_int_equal(hone_gguf_kv_type(g, i), HONE_GGUF_FLOAT32);
    assert_true((float)hone_gguf_kv_f64(g, i) == 1e-6f);
    i = hone_gguf_find_key(g, "t.f64");
    assert_int_equal(hone_gguf_kv_type(g, i), HONE_GGUF_FLOAT64);
    assert_true(hone_gguf_kv_f64(g, i) == -3.141592653589793);
    hone_str s;
    assert_int_equal(hone_gguf_get_str(g, "t.empty", &s), HONE_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(hone_gguf_get_str(g, "t.utf8", &s), HONE_OK);
    assert_int_equal(s.len, strlen(utf));
    assert_memory_equal(s.ptr, utf, s.len);
    assert_int_equal(hone_gguf_get_str(g, "t.nul", &s), HONE_OK);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "a\0b", 3);
    /* arrays */
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++) {
        i = hone_gguf_find_key(g, arrs[k].key);
        assert_true(i >= 0);
        assert_int_equal(hone_gguf_kv_type(g, i), HONE_GGUF_ARRAY);
        assert_int_equal(hone_gguf_arr_type(g, i), arrs[k].t);
        assert_int_equal(hone_gguf_arr_n(g, i), arrs[k].n);
        size_t es = arrs[k].t == HONE_GGUF_UINT8 || arrs[k].t == HONE_GGUF_INT8 || arrs[k].t == HONE_GGUF_BOOL ? 1
                  : arrs[k].t == HONE_GGUF_UINT16 || arrs[k].t == HONE_GGUF_INT16 ? 2
                  : arrs[k].t == HONE_GGUF_UINT64 || arrs[k].t == HONE_GGUF_INT64 || arrs[k].t == HONE_GGUF_FLOAT64 ? 8 : 4;
        if (arrs[k].n) assert_memory_equal(hone_gguf_arr_data(g, i), arrs[k].p, arrs[k].n * es);
    }
    i = hone_gguf_find_key(g, "a.str");
    assert_int_equal(hone_gguf_arr_type(g, i), HONE_GGUF_STRING);
    assert_int_equal(hone_gguf_arr_n(g, i), 4);
    for (uint64_t j = 0; j < 4; j++) {
        s = hone_gguf_arr_str(g, i, j);
        assert_int_equal(s.len, strlen(strs[j]));
        if (s.len) assert_memory_equal(s.ptr, strs[j], s.len);
    }
    i = hone_gguf_find_key(g, "a.str_empty");
    assert_int_equal(hone_gguf_arr_type(g, i), HONE_GGUF_STRING);
    assert_int_equal(hone_gguf_arr_n(g, i), 0);
    i = hone_gguf_find_key(g, "general.alignment");
    assert_int_equal(hone_gguf_kv_type(g, i), HONE_GGUF_UINT32);
    assert_int_equal(hone_gguf_kv_u64(g, i), 64);
    /* insertion order is file order */
    hone_str k0 = hone_gguf_kv_key(g, 0), klast = hone_gguf_kv_key(g, hone_gguf_n_kv(g) - 1);
    assert_memory_equal(k0.ptr, "general.architecture", k0.len);
    assert_memory_equal(klast.ptr, "general.alignment", klast.len);

    /* tensors */
    struct { const char *name; int type; uint32_t nd; uint64_t ne[4]; const void *p; size_t n; } ts[] = {
        {"w.f32", HONE_F32, 2, {5, 3, 1, 1}, f32, sizeof f32},
        {"w.f16", HONE_F16, 1, {7, 1, 1, 1}, f16, sizeof f16},
        {"w.q8", HONE_Q8_0, 3, {32, 3, 2, 1}, q8, sizeof q8},
        {"w.i32.streamed", HONE_I32, 4, {2, 2, 3, 2}, i32, sizeof i32},
        {name63, HONE_F32, 1, {1, 1, 1, 1}, f32, 4},
    };
    assert_int_equal(hone_gguf_n_tensors(g), 5);
    assert_int_equal(hone_gguf_data_offset(g) % 64, 0);
    for (int64_t t = 0; t < 5; t++) {
        hone_str n = hone_gguf_tensor_name(g, t);
        assert_int_equal(n.len, strlen(ts[t].name));
        assert_memory_equal(n.ptr, ts[t].name, n.len);
        assert_int_equal(hone_gguf_tensor_type(g, t), ts[t].type);
        assert_int_equal(hone_gguf_tensor_ndim(g, t), ts[t].nd);
        uint64_t ne[4];
        hone_gguf_tensor_shape(g, t, ne);
        assert_memory_equal(ne, ts[t].ne, sizeof ne);
        assert_int_equal(hone_gguf_tensor_nbytes(g, t), ts[t].n);
        assert_int_equal(hone_gguf_tensor_offset(g, t) % 64, 0);
        assert_memory_equal(hone_gguf_tensor_data(g, t), ts[t].p, ts[t].n);
    }
    hone_gguf_close(g);

    /* the default alignment writes no general.alignment key */
    ASSERT_OK(hone_gguf_writer_set_alignment(w, 128, &err), &err); /* updated in place */
    ASSERT_OK(hone_gguf_writer_remove_key(w, "general.alignment", &err), &err);
    assert_int_equal(hone_gguf_writer_alignment(w), 32);
    ASSERT_OK(hone_gguf_writer_write(w, path, &err), &err);
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    assert_int_equal(hone_gguf_find_key(g, "general.alignment"), -1);
    assert_int_equal(hone_gguf_alignment(g), 32);
    assert_int_equal(hone_gguf_file_size(g), hone_gguf_writer_file_size(w));
    assert_memory_equal(hone_gguf_tensor_data(g, 2), q8, sizeof q8);

    /* copying a file's metadata and tensors gives the same file, byte for byte */
    hone_gguf_writer *w2;
    ASSERT_OK(hone_gguf_writer_init(&w2, &err), &err);
    ASSERT_OK(hone_gguf_writer_copy(w2, g, HONE_GGUF_COPY_KV | HONE_GGUF_COPY_TENSORS, &err), &err);
    char *path2 = tmp_path("types2");
    ASSERT_OK(hone_gguf_writer_write(w2, path2, &err), &err);
    hone_gguf *g2;
    ASSERT_OK(hone_gguf_open(&g2, path2, &err), &err);
    assert_gguf_equal(g, g2);
    char *b1, *b2;
    size_t n1, n2;
    ASSERT_OK(hone_file_read_all(path, &b1, &n1, &err), &err);
    ASSERT_OK(hone_file_read_all(path2, &b2, &n2, &err), &err);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    hone_gguf_close(g2);
    hone_gguf_close(g);
    hone_gguf_writer_free(w2);
    hone_gguf_writer_free(w);
    unlink(path);
    unlink(path2);
    free(path);
    free(path2);
}

/* ---- misuse --------------------------------------------------------------------- */

static void test_errors(void **state) {
    hone_err err = {0};
    hone_gguf_writer *w;
    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    float x[64] = {0};
    char name64[65];
    memset(name64, 'x', 64);
    name64[64] = 0;
    assert_int_equal(hone_gguf_writer_add_tensor(w, name64, HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "64 bytes"));
    assert_int_equal(hone_gguf_writer_add_tensor(w, "", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    ASSERT_OK(hone_gguf_writer_add_tensor(w, "a", HONE_F32, 1, (uint64_t[]){4}, x, &err), &err);
    assert_int_equal(hone_gguf_writer_add_tensor(w, "a", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "duplicate tensor name 'a'"));
    assert_int_equal(hone_gguf_writer_add_tensor(w, "b", HONE_Q4_0, 1, (uint64_t[]){31}, x, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "block"));
    assert_int_equal(hone_gguf_writer_add_tensor(w, "b", 5, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_tensor(w, "b", HONE_F32, 5, (uint64_t[]){1, 1, 1, 1, 1}, x, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_tensor(w, "b", HONE_F32, 1, (uint64_t[]){4}, NULL, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_tensor(w, "b\xff", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_n_tensors(w), 1);

    ASSERT_OK(hone_gguf_writer_add_u32(w, "k", 1, &err), &err);
    assert_int_equal(hone_gguf_writer_add_f32(w, "k", 1, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "duplicate metadata key 'k'"));
    assert_int_equal(hone_gguf_writer_add_u32(w, "", 1, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_str(w, "s", "bad \xc3", &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "UTF-8"));
    const char *bad[] = {"ok", "\xed\xa0\x80"}; /* a surrogate */
    assert_int_equal(hone_gguf_writer_add_arr_str(w, "as", bad, 2, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_arr(w, "aa", HONE_GGUF_STRING, x, 1, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_arr(w, "ab", HONE_GGUF_BOOL, (uint8_t[]){2}, 1, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_u64(w, "general.alignment", 64, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_add_u32(w, "general.alignment", 48, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_set_alignment(w, 0, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_set_alignment(w, 96, &err), HONE_EARG);
    assert_int_equal(hone_gguf_writer_remove_key(w, "nope", &err), HONE_ENOTFOUND);
    assert_int_equal(hone_gguf_writer_n_kv(w), 1);
    assert_int_equal(hone_gguf_writer_alignment(w), 32);

    /* a fill that writes too few or too many bytes fails the write, leaving no file */
    int32_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    stream_ctx short_c = {(const uint8_t *)v, 28, 8, 0}, long_c = {(const uint8_t *)v, 32, 8, 4};
    ASSERT_OK(hone_gguf_writer_add_tensor_fn(w, "s", HONE_I32, 1, (uint64_t[]){8}, stream_fill, &short_c, &err), &err);
    char *path = tmp_path("err");
    unlink(path);
    assert_int_equal(hone_gguf_writer_write(w, path, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "tensor 's'"));
    assert_non_null(strstr(err.msg, "expected 32"));
    assert_false(file_exists(path));
    hone_gguf_writer_free(w);

    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    ASSERT_OK(hone_gguf_writer_add_tensor_fn(w, "l", HONE_I32, 1, (uint64_t[]){8}, stream_fill, &long_c, &err), &err);
    assert_int_equal(hone_gguf_writer_write(w, path, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "more than its 32"));
    assert_false(file_exists(path));
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_false(file_exists(tmp));
    /* an unwritable place is an I/O error naming the file */
    assert_int_equal(hone_gguf_writer_write(w, "/nonexistent/dir/x.gguf", &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.gguf"));
    hone_gguf_writer_free(w);
    free(path);
}

/* ---- real models: read -> write -> read ------------------------------------------------ */

static void roundtrip_model(const char *src, const char *tag) {
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, src, &err), &err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hone_gguf_writer *w;
    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    ASSERT_OK(hone_gguf_writer_copy(w, g, HONE_GGUF_COPY_KV | HONE_GGUF_COPY_TENSORS, &err), &err);
    assert_int_equal(hone_gguf_writer_file_size(w), hone_gguf_file_size(g));
    char *path = tmp_path(tag);
    ASSERT_OK(hone_gguf_writer_write(w, path, &err), &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    hone_gguf *h;
    ASSERT_OK(hone_gguf_open(&h, path, &err), &err);
    assert_gguf_equal(g, h);
    assert_int_equal(hone_gguf_data_offset(g), hone_gguf_data_offset(h));
    /* same layout rules as llama.cpp/gguf-py: the whole file is byte-identical */
    assert_int_equal(hone_gguf_file_size(g), hone_gguf_file_size(h));
    for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++)
        assert_int_equal(hone_gguf_tensor_offset(g, t), hone_gguf_tensor_offset(h, t));
    hone_map ma, mb;
    ASSERT_OK(hone_map_open(&ma, src, &err), &err);
    ASSERT_OK(hone_map_open(&mb, path, &err), &err);
    assert_int_equal(ma.size, mb.size);
    if (memcmp(ma.data, mb.data, ma.size) != 0) fail_msg("%s: rewritten file differs from the original", tag);
    hone_map_close(&ma);
    hone_map_close(&mb);
    print_message("[   INFO   ] %s: %lld keys, %lld tensors, %llu bytes written in %.2f s\n", tag,
                  (long long)hone_gguf_n_kv(g), (long long)hone_gguf_n_tensors(g),
                  (unsigned long long)hone_gguf_file_size(h),
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    hone_gguf_close(h);
    hone_gguf_close(g);
    hone_gguf_writer_free(w);
    unlink(path);
    free(path);
}

static void test_roundtrip_gemma(void **state) {
    REQUIRE_MODEL(p, GEMMA_GGUF);
    roundtrip_model(p, "gemma");
}

static void test_roundtrip_smol(void **state) {
    REQUIRE_MODEL(p, SMOL_GGUF);
    roundtrip_model(p, "smol");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_roundtrip_gemma),
        cmocka_unit_test(test_roundtrip_smol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
