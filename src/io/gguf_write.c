/* gguf_write.c: GGUF v3 writer (the builder declared in hone/gguf_write.h).
 *
 * Each metadata pair is encoded when it is added: the writer keeps the key and the exact
 * bytes that follow it in the file (u32 type, then the value), so writing is a sequence of
 * copies and a value's type can never drift between add and write. Tensors keep their info
 * (name, type, ne) and where the bytes come from (a pointer or a fill callback); offsets are
 * computed at write time as the running sum of the sizes padded to the alignment, which is
 * what llama.cpp and gguf-py do, so copies of their files come back byte for byte.
 * Names are checked at add time (empty, too long, duplicate, not UTF-8), so a bad call fails
 * where it is made and not at the end of a long export.
 */
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"
#include "io/sink.h"
#include "util/cursor.h"

typedef struct wkv {
    char *key;
    uint64_t key_len;
    uint32_t type;
    uint8_t *enc; /* (enc_len) bytes: u32 type, then the value as stored in the file */
    uint64_t enc_len;
} wkv;

typedef struct wtensor {
    char name[GGUF_MAX_NAME + 1];
    uint64_t name_len;
    uint32_t type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    const void *data;         /* (nbytes), or NULL when fill is set */
    hone_tensor_fill_fn fill;
    void *ctx;
} wtensor;

struct hone_gguf_writer {
    wkv *kv;
    int64_t n_kv, kv_cap;
    wtensor *t;
    int64_t n_t, t_cap;
    uint32_t *t_hash; /* open addressing over tensor names: index + 1, 0 = empty */
    uint64_t t_hash_cap;
    uint32_t alignment;
};

static uint32_t vsize(uint32_t t) {
    switch (t) {
    case HONE_GGUF_UINT8: case HONE_GGUF_INT8: case HONE_GGUF_BOOL: return 1;
    case HONE_GGUF_UINT16: case HONE_GGUF_INT16: return 2;
    case HONE_GGUF_UINT32: case HONE_GGUF_INT32: case HONE_GGUF_FLOAT32: return 4;
    case HONE_GGUF_UINT64: case HONE_GGUF_INT64: case HONE_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

int hone_gguf_writer_init(hone_gguf_writer **out, hone_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    (*out)->alignment = GGUF_DEFAULT_ALIGNMENT;
    return HONE_OK;
}

void hone_gguf_writer_free(hone_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].enc);
    }
    free(w->kv);
    free(w->t);
    free(w->t_hash);
    free(w);
}

uint32_t hone_gguf_writer_alignment(const hone_gguf_writer *w) { return w->alignment; }
int64_t hone_gguf_writer_n_kv(const hone_gguf_writer *w) { return w->n_kv; }
int64_t hone_gguf_writer_n_tensors(const hone_gguf_writer *w) { return w->n_t; }

/* ---- metadata --------------------------------------------------------------- */

static int64_t kv_find(const hone_gguf_writer *w, const char *key, uint64_t len) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (w->kv[i].key_len == len && memcmp(w->kv[i].key, key, len) == 0) return i;
    return -1;
}

static int check_utf8(const char *s, uint64_t n, const char *what, const char *key, hone_err *err) {
    size_t bad;
    if (!utf8_valid((const uint8_t *)s, (size_t)n, &bad))
        return hone_err_set(err, HONE_EARG, "gguf writer: %s of key '%s' is not valid UTF-8 at byte %zu",
                            what, key, bad);
    return HONE_OK;
}

/* Appends a pair whose encoded value (after the u32 type) is enc_val[0..len). Takes no
 * ownership; copies. */
static int kv_add(hone_gguf_writer *w, const char *key, uint32_t type, const void *val, uint64_t len,
                  hone_err *err) {
    if (!key || !*key) return hone_err_set(err, HONE_EARG, "gguf writer: empty metadata key");
    uint64_t klen = strlen(key);
    int rc = check_utf8(key, klen, "name", key, err);
    if (rc) return rc;
    if (kv_find(w, key, klen) >= 0)
        return hone_err_set(err, HONE_EARG, "gguf writer: duplicate metadata key '%s'", key);
    if (klen == 17 && memcmp(key, "general.alignment", 17) == 0) {
        uint32_t a;
        if (type != HONE_GGUF_UINT32)
            return hone_err_set(err, HONE_EARG, "gguf writer: general.alignment has type %s, expected UINT32",
                                hone_gguf_vtype_name((int)type));
        memcpy(&a, val, 4);
        if (a == 0 || (a & (a - 1)))
            return hone_err_set(err, HONE_EARG, "gguf writer: general.alignment is %u, expected a power of two", a);
        w->alignment = a;
    }
    if (w->n_kv == w->kv_cap) {
        int64_t nc = w->kv_cap ? 2 * w->kv_cap : 32;
        wkv *nk = realloc(w->kv, (size_t)nc * sizeof *nk);
        if (!nk) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
        w->kv = nk;
        w->kv_cap = nc;
    }
    wkv *kv = &w->kv[w->n_kv];
    kv->key = strdup(key);
    kv->key_len = klen;
    kv->type = type;
    kv->enc_len = 4 + len;
    kv->enc = malloc((size_t)kv->enc_len);
    if (!kv->key || !kv->enc) {
        free(kv->key);
        free(kv->enc);
        return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    memcpy(kv->enc, &type, 4);
    if (len) memcpy(kv->enc + 4, val, (size_t)len);
    w->n_kv++;
    return HONE_OK;
}

#define ADD_SCALAR(name, T, vt)                                                                  \
    int hone_gguf_writer_add_##name(hone_gguf_writer *w, const char *key, T v, hone_err *err) { \
        return kv_add(w, key, vt, &v, sizeof v, err);                                            \
    }
ADD_SCALAR(u8, uint8_t, HONE_GGUF_UINT8)
ADD_SCALAR(i8, int8_t, HONE_GGUF_INT8)
ADD_SCALAR(u16, uint16_t, HONE_GGUF_UINT16)
ADD_SCALAR(i16, int16_t, HONE_GGUF_INT16)
ADD_SCALAR(u32, uint32_t, HONE_GGUF_UINT32)
ADD_SCALAR(i32, int32_t, HONE_GGUF_INT32)
ADD_SCALAR(u64, uint64_t, HONE_GGUF_UINT64)
ADD_SCALAR(i64, int64_t, HONE_GGUF_INT64)
ADD_SCALAR(f32, float, HONE_GGUF_FLOAT32)
ADD_SCALAR(f64, double, HONE_GGUF_FLOAT64)
#undef ADD_SCALAR

int hone_gguf_writer_add_bool(hone_gguf_writer *w, const char *key, int v, hone_err *err) {
    uint8_t b = v ? 1 : 0;
    return kv_add(w, key, HONE_GGUF_BOOL, &b, 1, err);
}

int hone_gguf_writer_add_strn(hone_gguf_writer *w, const char *key, const char *s, size_t n,
                              hone_err *err) {
    if (!s && n) return hone_err_set(err, HONE_EARG, "gguf writer: NULL string for key '%s'", key ? key : "");
    int rc = check_utf8(s, n, "string value", key ? key : "", err);
    if (rc) return rc;
    uint8_t *buf = malloc(8 + n);
    if (!buf) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    uint64_t len = n;
    memcpy(buf, &len, 8);
    if (n) memcpy(buf + 8, s, n);
    rc = kv_add(w, key, HONE_GGUF_STRING, buf, 8 + n, err);
    free(buf);
    return rc;
}

int hone_gguf_writer_add_str(hone_gguf_writer *w, const char *key, const char *s, hone_err *err) {
    if (!s) return hone_err_set(err, HONE_EARG, "gguf writer: NULL string for key '%s'", key ? key : "");
    return hone_gguf_writer_add_strn(w, key, s, strlen(s), err);
}

int hone_gguf_writer_add_arr(hone_gguf_writer *w, const char *key, hone_gguf_vtype et,
                             const void *data, uint64_t n, hone_err *err) {
    uint32_t es = vsize(et);
    if (!es)
        return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': array element type %d is not a number or bool",
                            key ? key : "", (int)et);
    if (n && !data) return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': NULL array data", key ? key : "");
    if (n > (UINT64_MAX - 12) / es || 12 + n * es > SIZE_MAX)
        return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': array of %llu elements is too large",
                            key ? key : "", (unsigned long long)n);
    if (et == HONE_GGUF_BOOL)
        for (uint64_t j = 0; j < n; j++)
            if (((const uint8_t *)data)[j] > 1)
                return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': bool element %llu is %u, expected 0 or 1",
                                    key ? key : "", (unsigned long long)j, ((const uint8_t *)data)[j]);
    uint8_t *buf = malloc((size_t)(12 + n * es));
    if (!buf) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    uint32_t t = (uint32_t)et;
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &n, 8);
    if (n) memcpy(buf + 12, data, (size_t)(n * es));
    int rc = kv_add(w, key, HONE_GGUF_ARRAY, buf, 12 + n * es, err);
    free(buf);
    return rc;
}

int hone_gguf_writer_add_arr_hstr(hone_gguf_writer *w, const char *key, const hone_str *s,
                                  uint64_t n, hone_err *err) {
    if (n && !s) return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': NULL array", key ? key : "");
    uint64_t total = 12;
    for (uint64_t j = 0; j < n; j++) {
        if (s[j].len && !s[j].ptr)
            return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': string %llu is NULL",
                                key ? key : "", (unsigned long long)j);
        size_t bad;
        if (!utf8_valid((const uint8_t *)s[j].ptr, (size_t)s[j].len, &bad))
            return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': string %llu is not valid UTF-8 at byte %zu",
                                key ? key : "", (unsigned long long)j, bad);
        total += 8 + s[j].len;
    }
    uint8_t *buf = malloc((size_t)total);
    if (!buf) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    uint32_t t = HONE_GGUF_STRING;
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &n, 8);
    uint8_t *p = buf + 12;
    for (uint64_t j = 0; j < n; j++) {
        memcpy(p, &s[j].len, 8);
        if (s[j].len) memcpy(p + 8, s[j].ptr, (size_t)s[j].len);
        p += 8 + s[j].len;
    }
    int rc = kv_add(w, key, HONE_GGUF_ARRAY, buf, total, err);
    free(buf);
    return rc;
}

int hone_gguf_writer_add_arr_str(hone_gguf_writer *w, const char *key, const char *const *s,
                                 uint64_t n, hone_err *err) {
    if (n && !s) return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': NULL array", key ? key : "");
    hone_str *hs = malloc((n ? n : 1) * sizeof *hs);
    if (!hs) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    for (uint64_t j = 0; j < n; j++) {
        if (!s[j]) {
            free(hs);
            return hone_err_set(err, HONE_EARG, "gguf writer: key '%s': string %llu is NULL",
                                key ? key : "", (unsigned long long)j);
        }
        hs[j] = (hone_str){s[j], strlen(s[j])};
    }
    int rc = hone_gguf_writer_add_arr_hstr(w, key, hs, n, err);
    free(hs);
    return rc;
}

int hone_gguf_writer_remove_key(hone_gguf_writer *w, const char *key, hone_err *err) {
    int64_t i = kv_find(w, key, strlen(key));
    if (i < 0) return hone_err_set(err, HONE_ENOTFOUND, "gguf writer: no metadata key '%s' to remove", key);
    if (strcmp(key, "general.alignment") == 0) w->alignment = GGUF_DEFAULT_ALIGNMENT;
    free(w->kv[i].key);
    free(w->kv[i].enc);
    memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
    w->n_kv--;
    return HONE_OK;
}

int hone_gguf_writer_set_alignment(hone_gguf_writer *w, uint32_t a, hone_err *err) {
    if (a == 0 || (a & (a - 1)))
        return hone_err_set(err, HONE_EARG, "gguf writer: alignment %u is not a power of two", a);
    int64_t i = kv_find(w, "general.alignment", 17);
    if (i >= 0) {
        /* the key was validated as UINT32 when added: rewrite its value in place */
        memcpy(w->kv[i].enc + 4, &a, 4);
        w->alignment = a;
        return HONE_OK;
    }
    if (a == GGUF_DEFAULT_ALIGNMENT) {
        w->alignment = a;
        return HONE_OK;
    }
    return hone_gguf_writer_add_u32(w, "general.alignment", a, err);
}

/* ---- tensors ------------------------------------------------------------------ */

static uint64_t name_hash(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

/* Slot of name in the tensor hash: holding its index + 1, or 0 (free) if absent. */
static uint64_t t_slot(const hone_gguf_writer *w, const char *name, uint64_t n) {
    uint64_t m = w->t_hash_cap - 1, h = name_hash(name, n) & m;
    while (w->t_hash[h]) {
        const wtensor *t = &w->t[w->t_hash[h] - 1];
        if (t->name_len == n && memcmp(t->name, name, n) == 0) break;
        h = (h + 1) & m;
    }
    return h;
}

static int t_hash_grow(hone_gguf_writer *w, hone_err *err) {
    uint64_t cap = w->t_hash_cap ? 2 * w->t_hash_cap : 64;
    uint32_t *nh = calloc(cap, sizeof *nh);
    if (!nh) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    free(w->t_hash);
    w->t_hash = nh;
    w->t_hash_cap = cap;
    for (int64_t i = 0; i < w->n_t; i++)
        w->t_hash[t_slot(w, w->t[i].name, w->t[i].name_len)] = (uint32_t)i + 1;
    return HONE_OK;
}

static int tensor_add(hone_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                      const uint64_t *ne, const void *data, hone_tensor_fill_fn fill, void *ctx,
                      hone_err *err) {
    if (!name || !*name) return hone_err_set(err, HONE_EARG, "gguf writer: empty tensor name");
    uint64_t nlen = strlen(name);
    if (nlen > GGUF_MAX_NAME)
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor name '%s' has %llu bytes, at most %d allowed",
                            name, (unsigned long long)nlen, GGUF_MAX_NAME);
    size_t bad;
    if (!utf8_valid((const uint8_t *)name, (size_t)nlen, &bad))
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor name '%s' is not valid UTF-8 at byte %zu", name, bad);
    const char *tn = hone_dtype_name(type);
    if (!tn) return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': unknown type id %d", name, type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne)
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s' has %u dimensions, expected 1 to %d",
                            name, n_dims, GGUF_MAX_DIMS);
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] > (uint64_t)INT64_MAX || (ne[d] && nelem > (uint64_t)INT64_MAX / ne[d]))
            return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': element count overflows", name);
        nelem *= ne[d];
    }
    uint32_t blk = hone_dtype_block(type);
    if (ne[0] % blk)
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': row length %llu is not a multiple of %s's block of %u",
                            name, (unsigned long long)ne[0], tn, blk);
    uint64_t rb = hone_dtype_row_bytes(type, ne[0]);
    uint64_t rows = ne[0] ? nelem / ne[0] : 0;
    if (rb == UINT64_MAX || (rows && rb > (UINT64_MAX / 2) / rows))
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': byte size overflows", name);
    if (!data && !fill && rb != 0 && rows != 0)
        return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': no data", name);
    if (w->n_t >= UINT32_MAX / 2)
        return hone_err_set(err, HONE_EARG, "gguf writer: too many tensors");
    if ((uint64_t)(w->n_t + 1) * 2 > w->t_hash_cap) {
        int rc = t_hash_grow(w, err);
        if (rc) return rc;
    }
    uint64_t slot = t_slot(w, name, nlen);
    if (w->t_hash[slot])
        return hone_err_set(err, HONE_EARG, "gguf writer: duplicate tensor name '%s'", name);
    if (w->n_t == w->t_cap) {
        int64_t nc = w->t_cap ? 2 * w->t_cap : 64;
        wtensor *nt = realloc(w->t, (size_t)nc * sizeof *nt);
        if (!nt) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
        w->t = nt;
        w->t_cap = nc;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, nlen + 1);
    t->name_len = nlen;
    t->type = (uint32_t)type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = rb * rows;
    t->data = data;
    t->fill = fill;
    t->ctx = ctx;
    w->t_hash[slot] = (uint32_t)w->n_t + 1;
    w->n_t++;
    return HONE_OK;
}

int hone_gguf_writer_add_tensor(hone_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                                const uint64_t *ne, const void *data, hone_err *err) {
    return tensor_add(w, name, type, n_dims, ne, data, NULL, NULL, err);
}

int hone_gguf_writer_add_tensor_fn(hone_gguf_writer *w, const char *name, int type,
                                   uint32_t n_dims, const uint64_t *ne, hone_tensor_fill_fn fill,
                                   void *ctx, hone_err *err) {
    if (!fill) return hone_err_set(err, HONE_EARG, "gguf writer: tensor '%s': NULL fill function", name ? name : "");
    return tensor_add(w, name, type, n_dims, ne, NULL, fill, ctx, err);
}

/* ---- copying from a reader ---------------------------------------------------------- */

int hone_gguf_writer_copy_kv(hone_gguf_writer *w, const hone_gguf *g, int64_t i, hone_err *err) {
    if (i < 0 || i >= g->n_kv)
        return hone_err_set(err, HONE_EARG, "gguf writer: metadata index %lld out of range", (long long)i);
    const gguf_kv *kv = &g->kv[i];
    char *key = strndup(kv->key.ptr, (size_t)kv->key.len);
    if (!key) return hone_err_set(err, HONE_ENOMEM, "gguf writer: out of memory");
    if (strlen(key) != kv->key.len) {
        free(key);
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: metadata key %lld holds a NUL byte", g->path, (long long)i);
    }
    int rc;
    if (kv->type == HONE_GGUF_STRING) {
        rc = hone_gguf_writer_add_strn(w, key, kv->str.ptr, (size_t)kv->str.len, err);
    } else if (kv->type == HONE_GGUF_ARRAY) {
        if (kv->arr_type == HONE_GGUF_STRING)
            rc = hone_gguf_writer_add_arr_hstr(w, key, kv->strs, kv->arr_n, err);
        else
            rc = hone_gguf_writer_add_arr(w, key, (hone_gguf_vtype)kv->arr_type, kv->raw, kv->arr_n, err);
    } else {
        rc = kv_add(w, key, kv->type, kv->raw, vsize(kv->type), err);
    }
    free(key);
    return rc;
}

int hone_gguf_writer_copy(hone_gguf_writer *w, const hone_gguf *g, int flags, hone_err *err) {
    int rc = HONE_OK;
    if (flags & HONE_GGUF_COPY_KV)
        for (int64_t i = 0; i < g->n_kv && !rc; i++) rc = hone_gguf_writer_copy_kv(w, g, i, err);
    if (flags & HONE_GGUF_COPY_TENSORS)
        for (int64_t i = 0; i < g->n_tensors && !rc; i++) {
            const gguf_tensor *t = &g->tensors[i];
            char name[GGUF_MAX_NAME + 1];
            memcpy(name, t->name.ptr, (size_t)t->name.len); /* the reader checked len <= 63 */
            name[t->name.len] = 0;
            rc = tensor_add(w, name, (int)t->type, t->n_dims, t->ne, hone_gguf_tensor_data(g, i),
                            NULL, NULL, err);
        }
    return rc;
}

/* ---- layout and writing ----------------------------------------------------------- */

/* Bytes of header, metadata and tensor infos (before the padding to the data). */
static uint64_t head_size(const hone_gguf_writer *w) {
    uint64_t n = 4 + 4 + 8 + 8;
    for (int64_t i = 0; i < w->n_kv; i++) n += 8 + w->kv[i].key_len + w->kv[i].enc_len;
    for (int64_t i = 0; i < w->n_t; i++) n += 8 + w->t[i].name_len + 4 + 8 * w->t[i].n_dims + 4 + 8;
    return n;
}

static uint64_t data_size(const hone_gguf_writer *w) {
    uint64_t n = 0;
    for (int64_t i = 0; i < w->n_t; i++) n += align_up(w->t[i].nbytes, w->alignment);
    return n;
}

uint64_t hone_gguf_writer_file_size(const hone_gguf_writer *w) {
    return align_up(head_size(w), w->alignment) + data_size(w);
}

static int put_str(hone_wfile *f, const char *s, uint64_t n, hone_err *err) {
    int rc = hone_wfile_write(f, &n, 8, err);
    return rc ? rc : hone_wfile_write(f, s, (size_t)n, err);
}

static int write_all(hone_gguf_writer *w, hone_wfile *f, hone_err *err) {
    uint32_t version = 3;
    uint64_t nt = (uint64_t)w->n_t, nkv = (uint64_t)w->n_kv;
    int rc = hone_wfile_write(f, "GGUF", 4, err);
    if (!rc) rc = hone_wfile_write(f, &version, 4, err);
    if (!rc) rc = hone_wfile_write(f, &nt, 8, err);
    if (!rc) rc = hone_wfile_write(f, &nkv, 8, err);
    for (int64_t i = 0; i < w->n_kv && !rc; i++) {
        rc = put_str(f, w->kv[i].key, w->kv[i].key_len, err);
        if (!rc) rc = hone_wfile_write(f, w->kv[i].enc, (size_t)w->kv[i].enc_len, err);
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t && !rc; i++) {
        const wtensor *t = &w->t[i];
        rc = put_str(f, t->name, t->name_len, err);
        if (!rc) rc = hone_wfile_write(f, &t->n_dims, 4, err);
        if (!rc) rc = hone_wfile_write(f, t->ne, 8 * t->n_dims, err);
        if (!rc) rc = hone_wfile_write(f, &t->type, 4, err);
        if (!rc) rc = hone_wfile_write(f, &off, 8, err);
        off += align_up(t->nbytes, w->alignment);
    }
    if (!rc) rc = hone_wfile_pad(f, (size_t)(align_up(f->written, w->alignment) - f->written), err);
    for (int64_t i = 0; i < w->n_t && !rc; i++) {
        const wtensor *t = &w->t[i];
        if (t->fill) {
            char what[GGUF_MAX_NAME + 16];
            snprintf(what, sizeof what, "tensor '%s'", t->name);
            rc = sink_fill(f, what, t->nbytes, t->fill, t->ctx, err);
        } else {
            rc = hone_wfile_write(f, t->data, (size_t)t->nbytes, err);
        }
        if (!rc) rc = hone_wfile_pad(f, (size_t)(align_up(t->nbytes, w->alignment) - t->nbytes), err);
    }
    return rc;
}

int hone_gguf_writer_write(hone_gguf_writer *w, const char *path, hone_err *err) {
    hone_wfile f;
    int rc = hone_wfile_open(&f, path, err);
    if (rc) return rc;
    rc = write_all(w, &f, err);
    if (rc) {
        hone_wfile_abort(&f);
        return rc;
    }
    return hone_wfile_commit(&f, err);
}
