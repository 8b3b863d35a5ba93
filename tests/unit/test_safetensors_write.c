/* test_safetensors_write.c: the safetensors writer without Python (so it also runs under
 * ASan/UBSan). The header is compared byte for byte with the text the reference package
 * (safetensors 0.8, serialize_file) writes for the same tensors, taken from a run of it:
 * wider dtypes first, then names; compact JSON; spaces to a multiple of 8. The full check
 * against the package itself is tests/interop/test_safetensors_write.py. */
#include <sys/stat.h>

#include "testutil.h"
#include "util/fileio.h" /* hone_file_read_all */

static void test_layout(void **state) {
    hone_err err = {0};
    hone_st_writer *w;
    ASSERT_OK(hone_st_writer_init(&w, &err), &err);
    float b[2] = {1.0f, 2.0f};
    uint16_t a[1] = {0x3c00};
    double d[1] = {0.5};
    ASSERT_OK(hone_st_writer_add_meta(w, "format", "pt", &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "b", HONE_F32, 1, (uint64_t[]){2}, b, &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "a", HONE_F16, 2, (uint64_t[]){1, 1}, a, &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "z", HONE_F64, 0, NULL, d, &err), &err);
    char path[128];
    snprintf(path, sizeof path, "/tmp/hone-test-stw-%ld.safetensors", (long)getpid());
    ASSERT_OK(hone_st_writer_write(w, path, &err), &err);
    char *buf;
    size_t n;
    ASSERT_OK(hone_file_read_all(path, &buf, &n, &err), &err);
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"z\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                       "\"a\":{\"dtype\":\"F16\",\"shape\":[1,1],\"data_offsets\":[16,18]}}";
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    uint64_t got_hl;
    memcpy(&got_hl, buf, 8);
    assert_int_equal(got_hl, hl);
    assert_int_equal(n, 8 + hl + 18);
    assert_memory_equal(buf + 8, json, jl);
    for (size_t i = jl; i < hl; i++) assert_int_equal(buf[8 + i], ' ');
    assert_memory_equal(buf + 8 + hl, d, 8);
    assert_memory_equal(buf + 8 + hl + 8, b, 8);
    assert_memory_equal(buf + 8 + hl + 16, a, 2);
    free(buf);
    unlink(path);
    hone_st_writer_free(w);

    uint64_t ne[3] = {640, 18, 3}, shape[3];
    hone_st_shape_from_ne(3, ne, shape);
    assert_true(shape[0] == 3 && shape[1] == 18 && shape[2] == 640);
}

static void test_errors(void **state) {
    hone_err err = {0};
    hone_st_writer *w;
    ASSERT_OK(hone_st_writer_init(&w, &err), &err);
    float x[4] = {0};
    ASSERT_OK(hone_st_writer_add_tensor(w, "x", HONE_F32, 1, (uint64_t[]){4}, x, &err), &err);
    assert_int_equal(hone_st_writer_add_tensor(w, "x", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "duplicate tensor name 'x'"));
    assert_int_equal(hone_st_writer_add_tensor(w, "__metadata__", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_int_equal(hone_st_writer_add_tensor(w, "", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    assert_int_equal(hone_st_writer_add_tensor(w, "q", HONE_Q4_K, 1, (uint64_t[]){256}, x, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Q4_K"));
    assert_int_equal(hone_st_writer_add_tensor(w, "n", HONE_F32, 1, (uint64_t[]){4}, NULL, &err), HONE_EARG);
    assert_int_equal(hone_st_writer_add_tensor(w, "o", HONE_F32, 2, (uint64_t[]){1ull << 62, 4}, x, &err), HONE_EARG);
    assert_int_equal(hone_st_writer_add_tensor(w, "\xc3(", HONE_F32, 1, (uint64_t[]){4}, x, &err), HONE_EARG);
    ASSERT_OK(hone_st_writer_add_meta(w, "k", "v", &err), &err);
    assert_int_equal(hone_st_writer_add_meta(w, "k", "w", &err), HONE_EARG);
    assert_int_equal(hone_st_writer_n_tensors(w), 1);
    assert_int_equal(hone_st_writer_write(w, "/nonexistent/dir/x.safetensors", &err), HONE_EIO);
    assert_int_equal(hone_st_writer_write_sharded(w, "/tmp", "m", 0, NULL, &err), HONE_EARG);
    hone_st_writer_free(w);
}

static void test_shards(void **state) {
    hone_err err = {0};
    hone_st_writer *w;
    ASSERT_OK(hone_st_writer_init(&w, &err), &err);
    static float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)i;
    /* 40 + 40 bytes fit a 100-byte shard, 40 more opens the next; 256 is over: alone */
    ASSERT_OK(hone_st_writer_add_tensor(w, "a", HONE_F32, 1, (uint64_t[]){10}, v, &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "b", HONE_F32, 1, (uint64_t[]){10}, v, &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "big", HONE_F32, 1, (uint64_t[]){64}, v, &err), &err);
    ASSERT_OK(hone_st_writer_add_tensor(w, "c", HONE_F32, 1, (uint64_t[]){10}, v, &err), &err);
    char dir[128], p[256];
    snprintf(dir, sizeof dir, "/tmp/hone-test-stw-%ld", (long)getpid());
    assert_int_equal(mkdir(dir, 0700), 0);
    int ns = 0;
    ASSERT_OK(hone_st_writer_write_sharded(w, dir, "model", 100, &ns, &err), &err);
    assert_int_equal(ns, 3);
    const char *files[] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                           "model-00003-of-00003.safetensors", "model.safetensors.index.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_int_equal(access(p, R_OK), 0);
    }
    char *idx;
    size_t n;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    ASSERT_OK(hone_file_read_all(p, &idx, &n, &err), &err);
    assert_non_null(strstr(idx, "\"total_size\": 376"));
    assert_non_null(strstr(idx, "\"big\": \"model-00001-of-00003.safetensors\""));
    assert_non_null(strstr(idx, "\"a\": \"model-00002-of-00003.safetensors\""));
    assert_non_null(strstr(idx, "\"c\": \"model-00003-of-00003.safetensors\""));
    free(idx);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    /* everything in one shard: a plain model.safetensors, no index */
    ASSERT_OK(hone_st_writer_write_sharded(w, dir, NULL, 1000, &ns, &err), &err);
    assert_int_equal(ns, 1);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    assert_int_equal(access(p, R_OK), 0);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    assert_int_not_equal(access(p, R_OK), 0);
    rmdir(dir);
    hone_st_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
