/* test_safetensors_read.c: the safetensors reader on hand-built files: a valid
 * file (values read back through the data pointer, exact), sharded folders,
 * and every malformed case the reader must refuse with a message naming the
 * file and the offending field. The cross-check against files written by the
 * PyPI safetensors package is tests/interop/test_safetensors_read.py. */
#include <sys/stat.h>

#include "testutil.h"

/* u64 length + header + data in a malloc'd buffer. */
static uint8_t *build(const char *header, const void *data, size_t dlen, size_t *size) {
    size_t h = strlen(header);
    uint8_t *b = malloc(8 + h + dlen + 1);
    uint64_t n = h;
    memcpy(b, &n, 8);
    memcpy(b + 8, header, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    *size = 8 + h + dlen;
    return b;
}

/* Opens header+data from memory; *buf must be freed after hone_st_close. */
static int open_mem(const char *header, const void *data, size_t dlen, hone_st **st, hone_err *err,
                    uint8_t **buf) {
    size_t n;
    *buf = build(header, data, dlen, &n);
    return hone_st_open_mem(st, *buf, n, "t.safetensors", err);
}

static void test_valid(void **state) {
    float f[2] = {1.5f, -2.25f};
    uint16_t h[2] = {0x3c00, 0xc000}; /* f16 1.0, -2.0 */
    uint8_t data[14] = {0};
    memcpy(data, f, 8);
    memcpy(data + 8, h, 4);
    hone_st *st;
    hone_err err = {0};
    const char *ok = "{\"__metadata__\":{\"format\":\"pt\",\"x\":\"y\"},"
                     "\"b\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[8,12]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"e\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[12,12]},"
                     "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[12,14]}}";
    uint8_t *buf;
    ASSERT_OK(open_mem(ok, data, sizeof data, &st, &err, &buf), &err);
    assert_int_equal(hone_st_n_tensors(st), 4);
    int64_t f8 = hone_st_find(st, "f8");
    assert_int_equal(hone_st_tensor_dtype(st, f8), HONE_ST_F8_E4M3);
    assert_int_equal(hone_st_tensor_nbytes(st, f8), 2);
    assert_int_equal(hone_st_dtype_to_ggml(HONE_ST_F8_E4M3), -1);
    assert_int_equal(hone_st_n_shards(st), 1);
    /* ordered by offset */
    assert_string_equal(hone_st_tensor_name(st, 0), "a");
    assert_string_equal(hone_st_tensor_name(st, 1), "b");
    int64_t a = hone_st_find(st, "a"), b = hone_st_find(st, "b");
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(hone_st_find(st, "zz"), -1);
    assert_int_equal(hone_st_tensor_dtype(st, a), HONE_ST_F32);
    assert_int_equal(hone_st_tensor_dtype(st, b), HONE_ST_F16);
    assert_int_equal(hone_st_dtype_to_ggml(HONE_ST_F16), HONE_F16);
    assert_int_equal(hone_st_dtype_to_ggml(HONE_ST_BF16), HONE_BF16);
    assert_int_equal(hone_st_dtype_to_ggml(HONE_ST_U8), -1);
    assert_int_equal(hone_st_tensor_ndim(st, b), 2);
    assert_int_equal(hone_st_tensor_shape(st, b)[0], 2);
    assert_int_equal(hone_st_tensor_shape(st, b)[1], 1);
    assert_int_equal(hone_st_tensor_nelem(st, b), 2);
    assert_int_equal(hone_st_tensor_nbytes(st, b), 4);
    assert_int_equal(hone_st_tensor_offset(st, b), 8);
    float got[2];
    memcpy(got, hone_st_tensor_data(st, a), 8);
    assert_true(got[0] == 1.5f && got[1] == -2.25f);
    uint16_t gh[2];
    memcpy(gh, hone_st_tensor_data(st, b), 4);
    assert_int_equal(gh[0], 0x3c00);
    assert_int_equal(gh[1], 0xc000);
    int64_t e = hone_st_find(st, "e");
    assert_int_equal(hone_st_tensor_nelem(st, e), 0);
    assert_int_equal(hone_st_n_meta(st), 2);
    assert_string_equal(hone_st_meta_key(st, 0), "format");
    assert_string_equal(hone_st_meta_get(st, "x"), "y");
    assert_null(hone_st_meta_get(st, "nope"));
    hone_st_close(st);
    free(buf);
}

static void test_no_tensors(void **state) {
    hone_st *st;
    hone_err err = {0};
    uint8_t *buf;
    ASSERT_OK(open_mem("{}", NULL, 0, &st, &err, &buf), &err);
    assert_int_equal(hone_st_n_tensors(st), 0);
    assert_int_equal(hone_st_n_meta(st), 0);
    assert_int_equal(hone_st_find(st, "a"), -1);
    hone_st_close(st);
    free(buf);
    ASSERT_OK(open_mem("{\"__metadata__\":{\"k\":\"v\"}}  ", NULL, 0, &st, &err, &buf), &err);
    assert_string_equal(hone_st_meta_get(st, "k"), "v");
    hone_st_close(st);
    free(buf);
}

/* Opens header+data and expects code, with the file name and both needles in
 * a one-line message. */
static void expect_bad(const char *header, size_t dlen, int code, const char *n1, const char *n2) {
    uint8_t data[64] = {0};
    hone_st *st = NULL;
    hone_err err = {0};
    uint8_t *buf;
    int rc = open_mem(header, data, dlen, &st, &err, &buf);
    hone_st_close(st);
    free(buf);
    if (rc != code) fail_msg("expected %d, got %d (%s) for %s", code, rc, err.msg, header);
    assert_null(st);
    if (!strstr(err.msg, "t.safetensors")) fail_msg("message does not name the file: %s", err.msg);
    if (n1 && !strstr(err.msg, n1)) fail_msg("message lacks '%s': %s", n1, err.msg);
    if (n2 && !strstr(err.msg, n2)) fail_msg("message lacks '%s': %s", n2, err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_offsets(void **state) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, HONE_EFORMAT,
               "a.data_offsets", "past the data section");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, HONE_EFORMAT, "overlaps", "'a'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, HONE_EFORMAT, "begin <= end", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, HONE_EFORMAT, "span 8 bytes",
               "expected 12");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 8, HONE_EFORMAT, "expected 4", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}", 8, HONE_EFORMAT, "begin", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, HONE_EFORMAT, "data_offsets", NULL);
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
               HONE_EFORMAT, "overflows", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,8]}}", 8,
               HONE_EFORMAT, "overflows", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, HONE_EFORMAT, "a.shape[0]", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 8,
               HONE_EUNSUPPORTED, "9 dimensions", NULL);
}

static void test_dtype(void **state) {
    expect_bad("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, HONE_EUNSUPPORTED, "a.dtype",
               "'Q4'");
    expect_bad("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, HONE_EFORMAT, "a.dtype", NULL);
    expect_bad("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, HONE_EFORMAT, "a.dtype", NULL);
    expect_bad("{\"a\":[1,2]}", 8, HONE_EFORMAT, "'a'", "not an object");
    expect_bad("{\"__metadata__\":{\"k\":3}}", 0, HONE_EFORMAT, "__metadata__.k", NULL);
}

static void test_bad_json(void **state) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\n\"shape\":[2],,}}", 8, HONE_EFORMAT, "line 2 column", "byte");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, HONE_EFORMAT, "duplicate", "line 1");
    expect_bad("[1,2,3]", 0, HONE_EFORMAT, "'{'", NULL);
    expect_bad("{}  x", 0, HONE_EFORMAT, "line 1 column", NULL);
}

static void test_truncated(void **state) {
    hone_st *st = NULL;
    hone_err err = {0};
    uint8_t b[20] = {0};
    uint64_t n = 100; /* header claims 100 bytes, 12 follow */
    memcpy(b, &n, 8);
    memcpy(b + 8, "{\"a\":{\"dty", 10);
    assert_int_equal(hone_st_open_mem(&st, b, sizeof b, "t.safetensors", &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "t.safetensors: byte 8"));
    assert_non_null(strstr(err.msg, "header JSON of 100 bytes"));
    assert_int_equal(hone_st_open_mem(&st, b, 5, "t.safetensors", &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "header length"));
    n = 200ull * 1000 * 1000; /* over the cap, checked before anything else */
    memcpy(b, &n, 8);
    assert_int_equal(hone_st_open_mem(&st, b, sizeof b, "t.safetensors", &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "limit"));
    n = UINT64_MAX;
    memcpy(b, &n, 8);
    assert_int_equal(hone_st_open_mem(&st, b, sizeof b, "t.safetensors", &err), HONE_EFORMAT);
}

/* ---- files and folders -------------------------------------------------------- */

static char dir[256];

static void write_file(const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void write_st(const char *name, const char *header, size_t dlen) {
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
    size_t n;
    uint8_t *b = build(header, data, dlen, &n);
    write_file(name, b, n);
    free(b);
}

static void rm_rf(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/hone-st-%ld-%d", (long)getpid(), rand());
    assert_int_equal(mkdir(dir, 0755), 0);
}

static const char *IDX = "{\"metadata\":{\"total_size\":16},\"weight_map\":{\"x\":\"m-1.safetensors\",\"y\":\"m-2.safetensors\"}}";

static void test_sharded(void **state) {
    make_dir();
    write_st("m-1.safetensors", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    write_st("m-2.safetensors", "{\"y\":{\"dtype\":\"I32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}", 8);
    write_file("model.safetensors.index.json", IDX, strlen(IDX));
    hone_st *st;
    hone_err err = {0};
    ASSERT_OK(hone_st_open(&st, dir, &err), &err);
    assert_int_equal(hone_st_n_shards(st), 2);
    assert_int_equal(hone_st_n_tensors(st), 2);
    int64_t y = hone_st_find(st, "y");
    assert_true(y >= 0);
    assert_int_equal(hone_st_tensor_shard(st, y), 1);
    assert_non_null(strstr(hone_st_shard_path(st, 1), "m-2.safetensors"));
    const uint8_t *p = hone_st_tensor_data(st, y);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[7], 7);
    assert_string_equal(hone_st_meta_get(st, "format"), "pt");
    hone_st_close(st);

    /* a tensor the index names is not in its shard */
    const char *idx2 = "{\"weight_map\":{\"x\":\"m-1.safetensors\",\"z\":\"m-2.safetensors\"}}";
    write_file("model.safetensors.index.json", idx2, strlen(idx2));
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "weight_map.z"));
    assert_non_null(strstr(err.msg, "m-2.safetensors"));
    /* a tensor in another shard than the index says */
    const char *idx3 = "{\"weight_map\":{\"x\":\"m-2.safetensors\",\"y\":\"m-1.safetensors\"}}";
    write_file("model.safetensors.index.json", idx3, strlen(idx3));
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "weight_map.x"));
    /* the same tensor in two shards */
    write_st("m-2.safetensors", "{\"x\":{\"dtype\":\"I32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                                "\"y\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
    write_file("model.safetensors.index.json", IDX, strlen(IDX));
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "'x' also appears"));
    /* a missing shard */
    char path[512];
    snprintf(path, sizeof path, "%s/m-2.safetensors", dir);
    unlink(path);
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "m-2.safetensors is missing"));
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    /* a bad index */
    write_file("model.safetensors.index.json", "{\"weight_map\": [1]}", 19);
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "weight_map"));
    write_file("model.safetensors.index.json", "{\n\"weight_map\": {,}}", 20);
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "line 2 column"));
    rm_rf();
}

static void test_folder_single(void **state) {
    make_dir();
    hone_st *st;
    hone_err err = {0};
    assert_int_equal(hone_st_open(&st, dir, &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 6);
    ASSERT_OK(hone_st_open(&st, dir, &err), &err);
    assert_int_equal(hone_st_n_tensors(st), 1);
    assert_int_equal(hone_st_tensor_dtype(st, 0), HONE_ST_BF16);
    hone_st_close(st);
    /* the same file by path; a truncated copy fails naming it */
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ASSERT_OK(hone_st_open(&st, path, &err), &err);
    hone_st_close(st);
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 5);
    assert_int_equal(hone_st_open(&st, path, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "past the data section"));
    rm_rf();
}

int main(void) {
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_no_tensors),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_dtype),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_folder_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
