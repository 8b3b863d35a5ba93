/* safetensors.c: safetensors reader (single files and sharded HF folders).
 *
 * Each shard is mmap'd. The 8-byte header length is checked against the file
 * size and a 100 MB cap before the header is touched; the header JSON is parsed
 * by jansson (duplicate keys rejected; a syntax error names line, column and
 * file byte). Every tensor entry is checked: a known dtype, a shape of
 * non-negative integers whose element and byte counts do not overflow,
 * data_offsets [begin, end) with begin <= end, end inside the data section,
 * end - begin == nelem * dtype size; and, as the reference crate demands, the
 * tensors tile the data section exactly: sorted by offset, the first at 0, each
 * beginning where the previous ends, the last ending at the end of the file
 * (a gap, an overlap or trailing bytes is an error naming the byte).
 * A sharded model is read through model.safetensors.index.json: every shard it
 * names is opened, every weight_map entry must be in the shard it names, and a
 * tensor name may appear in only one shard. Tensors are kept ordered by
 * (shard, offset); a hash table finds them by name. No tensor data is read.
 */
#define _GNU_SOURCE
#include "hone.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cursor.h"
#include "util/fileio.h"

#define ST_MAX_HEADER (100u * 1000u * 1000u) /* same cap as the reference crate */

typedef struct st_tensor {
    char *name;
    uint32_t dtype, ndim;
    uint64_t shape[HONE_ST_MAX_DIMS]; /* (ndim) row-major */
    uint64_t nelem, begin, end;       /* [begin, end) relative to the data section */
    int shard;
} st_tensor;

typedef struct st_shard {
    char *path;
    hone_map map; /* owned only when opened from a path */
    const uint8_t *data;
    size_t size;
    uint64_t data_start; /* 8 + header length */
} st_shard;

struct hone_st {
    st_shard *shards;
    int n_shards;
    st_tensor *t;
    int64_t n, cap;
    uint32_t *hash; /* indices + 1, 0 = empty; hash_cap a power of two */
    uint64_t hash_cap;
    char **meta_k, **meta_v;
    int64_t n_meta;
};

/* ---- dtypes ----------------------------------------------------------------- */

static const struct { const char *name; uint32_t size; int ggml; } ST_DTYPES[HONE_ST_DTYPE_COUNT] = {
    [HONE_ST_BOOL] = {"BOOL", 1, -1},       [HONE_ST_U8] = {"U8", 1, -1},
    [HONE_ST_I8] = {"I8", 1, HONE_I8},      [HONE_ST_U16] = {"U16", 2, -1},
    [HONE_ST_I16] = {"I16", 2, HONE_I16},   [HONE_ST_F16] = {"F16", 2, HONE_F16},
    [HONE_ST_BF16] = {"BF16", 2, HONE_BF16}, [HONE_ST_U32] = {"U32", 4, -1},
    [HONE_ST_I32] = {"I32", 4, HONE_I32},   [HONE_ST_F32] = {"F32", 4, HONE_F32},
    [HONE_ST_U64] = {"U64", 8, -1},         [HONE_ST_I64] = {"I64", 8, HONE_I64},
    [HONE_ST_F64] = {"F64", 8, HONE_F64},   [HONE_ST_F8_E4M3] = {"F8_E4M3", 1, -1},
    [HONE_ST_F8_E5M2] = {"F8_E5M2", 1, -1},
};

const char *hone_st_dtype_str(int d) {
    return d >= 0 && d < HONE_ST_DTYPE_COUNT ? ST_DTYPES[d].name : NULL;
}
uint32_t hone_st_dtype_size(int d) {
    return d >= 0 && d < HONE_ST_DTYPE_COUNT ? ST_DTYPES[d].size : 0;
}
int hone_st_dtype_to_ggml(int d) {
    return d >= 0 && d < HONE_ST_DTYPE_COUNT ? ST_DTYPES[d].ggml : -1;
}

static int dtype_parse(const char *s) {
    for (int d = 0; d < HONE_ST_DTYPE_COUNT; d++)
        if (!strcmp(s, ST_DTYPES[d].name)) return d;
    return -1;
}

/* ---- name hash ---------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int64_t find_name(const hone_st *st, const char *name) {
    if (!st->hash_cap) return -1;
    uint64_t m = st->hash_cap - 1, h = hash_str(name) & m;
    while (st->hash[h]) {
        if (!strcmp(st->t[st->hash[h] - 1].name, name)) return st->hash[h] - 1;
        h = (h + 1) & m;
    }
    return -1;
}

static int build_hash(hone_st *st, hone_err *err) {
    free(st->hash);
    st->hash_cap = 16;
    while (st->hash_cap < 2 * (uint64_t)st->n) st->hash_cap <<= 1;
    st->hash = calloc(st->hash_cap, sizeof *st->hash);
    if (!st->hash) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    uint64_t m = st->hash_cap - 1;
    for (int64_t i = 0; i < st->n; i++) {
        uint64_t h = hash_str(st->t[i].name) & m;
        while (st->hash[h]) {
            const st_tensor *o = &st->t[st->hash[h] - 1];
            if (!strcmp(o->name, st->t[i].name))
                return hone_err_set(err, HONE_EFORMAT, "%s: tensor '%s' also appears in %s",
                                    st->shards[st->t[i].shard].path, st->t[i].name,
                                    st->shards[o->shard].path);
            h = (h + 1) & m;
        }
        st->hash[h] = (uint32_t)i + 1;
    }
    return HONE_OK;
}

/* ---- one shard's header ---------------------------------------------------------- */

static int cmp_tensor(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int push_tensor(hone_st *st, hone_err *err) {
    if (st->n < st->cap) return HONE_OK;
    int64_t nc = st->cap ? 2 * st->cap : 64;
    st_tensor *nt = realloc(st->t, (size_t)nc * sizeof *nt);
    if (!nt) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    st->t = nt;
    st->cap = nc;
    return HONE_OK;
}

static int parse_meta(hone_st *st, const char *path, json_t *meta, hone_err *err) {
    if (!json_is_object(meta))
        return hone_err_set(err, HONE_EFORMAT, "%s: header: __metadata__ is not an object", path);
    size_t n = json_object_size(meta);
    st->meta_k = calloc(n ? n : 1, sizeof *st->meta_k);
    st->meta_v = calloc(n ? n : 1, sizeof *st->meta_v);
    if (!st->meta_k || !st->meta_v) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return hone_err_set(err, HONE_EFORMAT, "%s: header: __metadata__.%s is not a string", path, k);
        st->meta_k[st->n_meta] = strdup(k);
        st->meta_v[st->n_meta] = strndup(json_string_value(v), json_string_length(v));
        if (!st->meta_k[st->n_meta] || !st->meta_v[st->n_meta]) {
            st->n_meta++;
            return hone_err_set(err, HONE_ENOMEM, "out of memory");
        }
        st->n_meta++;
    }
    return HONE_OK;
}

static int parse_entry(hone_st *st, int shard, const char *name, json_t *e, uint64_t data_size,
                       hone_err *err) {
    const char *path = st->shards[shard].path;
    if (!json_is_object(e))
        return hone_err_set(err, HONE_EFORMAT, "%s: header: tensor '%s' is not an object", path, name);
    json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape"),
           *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd))
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.dtype: expected a string", path, name);
    int dt = dtype_parse(json_string_value(jd));
    if (dt < 0)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: header: %s.dtype: dtype '%s' is not supported (expected one of BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64, F8_E4M3, F8_E5M2)",
                            path, name, json_string_value(jd));
    if (!json_is_array(js))
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.shape: expected an array", path, name);
    if (json_array_size(js) > HONE_ST_MAX_DIMS)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: header: %s.shape: %zu dimensions, at most %d supported",
                            path, name, json_array_size(js), HONE_ST_MAX_DIMS);
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.data_offsets: expected [begin, end] integers",
                            path, name);
    int rc = push_tensor(st, err);
    if (rc) return rc;
    st_tensor *t = &st->t[st->n];
    memset(t, 0, sizeof *t);
    t->dtype = (uint32_t)dt;
    t->shard = shard;
    t->ndim = (uint32_t)json_array_size(js);
    t->nelem = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(js, d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.shape[%u]: expected a non-negative integer",
                                path, name, d);
        t->shape[d] = (uint64_t)json_integer_value(x);
        if (t->shape[d] && t->nelem > UINT64_MAX / t->shape[d])
            return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.shape: element count overflows", path, name);
        t->nelem *= t->shape[d];
    }
    uint64_t es = ST_DTYPES[dt].size;
    if (t->nelem > UINT64_MAX / es)
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.shape: byte count overflows", path, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), en = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || en < 0 || b > en)
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.data_offsets [%lld, %lld]: expected 0 <= begin <= end",
                            path, name, (long long)b, (long long)en);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)en;
    if (t->end > data_size)
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s.data_offsets end %llu lies past the data section (%llu bytes)",
                            path, name, (unsigned long long)t->end, (unsigned long long)data_size);
    if (t->end - t->begin != t->nelem * es)
        return hone_err_set(err, HONE_EFORMAT, "%s: header: %s: data_offsets span %llu bytes, expected %llu (%llu %s elements)",
                            path, name, (unsigned long long)(t->end - t->begin),
                            (unsigned long long)(t->nelem * es), (unsigned long long)t->nelem,
                            ST_DTYPES[dt].name);
    t->name = strdup(name);
    if (!t->name) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    st->n++;
    return HONE_OK;
}

static int parse_shard(hone_st *st, int shard, int want_meta, hone_err *err) {
    st_shard *s = &st->shards[shard];
    hone_cursor c;
    cursor_init(&c, s->data, s->size, s->path, err);
    uint64_t hlen;
    if (cursor_u64(&c, &hlen, "8-byte header length")) return HONE_EFORMAT;
    if (hlen > ST_MAX_HEADER)
        return cursor_fail_at(&c, 0, "header length %llu exceeds the %u-byte limit (not a safetensors file?)",
                              (unsigned long long)hlen, ST_MAX_HEADER);
    const uint8_t *h = cursor_take(&c, hlen, "header JSON");
    if (!h) return HONE_EFORMAT;
    if (hlen < 2 || h[0] != '{')
        return cursor_fail_at(&c, 8, "expected the header JSON to start with '{'");
    s->data_start = 8 + hlen;
    uint64_t data_size = s->size - s->data_start;
    json_error_t je;
    json_t *root = json_loadb((const char *)h, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return hone_err_set(err, HONE_EFORMAT, "%s: byte %lld: header JSON line %d column %d: %s", s->path,
                            (long long)(8 + (je.position > 0 ? je.position : 0)), je.line, je.column, je.text);
    int rc = HONE_OK;
    if (!json_is_object(root)) rc = hone_err_set(err, HONE_EFORMAT, "%s: header JSON is not an object", s->path);
    int64_t first = st->n;
    const char *k;
    json_t *v;
    if (!rc) json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            if (want_meta && (rc = parse_meta(st, s->path, v, err))) break;
            continue;
        }
        if ((rc = parse_entry(st, shard, k, v, data_size, err))) break;
    }
    json_decref(root);
    if (rc) return rc;
    /* The data section must be tiled exactly, as the reference crate's validate()
     * demands: sorted by offset, each tensor begins where the previous one ends
     * (the first at 0), and the last ends at the end of the file. A file with
     * gaps, overlaps or trailing bytes would be refused by every other loader. */
    if (st->n - first > 1) qsort(st->t + first, (size_t)(st->n - first), sizeof *st->t, cmp_tensor);
    uint64_t at = 0;
    for (int64_t i = first; i < st->n; i++) {
        const st_tensor *a = i > first ? &st->t[i - 1] : NULL, *b = &st->t[i];
        if (b->begin < at)
            return hone_err_set(err, HONE_EFORMAT, "%s: byte %llu: tensor '%s' data [%llu, %llu) overlaps tensor '%s' [%llu, %llu) (expected it to begin at %llu)",
                                s->path, (unsigned long long)(s->data_start + b->begin), b->name,
                                (unsigned long long)b->begin, (unsigned long long)b->end, a->name,
                                (unsigned long long)a->begin, (unsigned long long)a->end, (unsigned long long)at);
        if (b->begin > at) {
            if (a)
                return hone_err_set(err, HONE_EFORMAT, "%s: byte %llu: gap before tensor '%s' data [%llu, %llu): expected it to begin at %llu, where tensor '%s' ends",
                                    s->path, (unsigned long long)(s->data_start + at), b->name,
                                    (unsigned long long)b->begin, (unsigned long long)b->end, (unsigned long long)at, a->name);
            return hone_err_set(err, HONE_EFORMAT, "%s: byte %llu: gap before tensor '%s' data [%llu, %llu): expected the first tensor to begin at 0",
                                s->path, (unsigned long long)s->data_start, b->name, (unsigned long long)b->begin,
                                (unsigned long long)b->end);
        }
        at = b->end;
    }
    if (at != data_size)
        return hone_err_set(err, HONE_EFORMAT, "%s: byte %llu: %llu trailing bytes after the last tensor's data (expected the file to end at byte %llu)",
                            s->path, (unsigned long long)(s->data_start + at), (unsigned long long)(data_size - at),
                            (unsigned long long)(s->data_start + at));
    return HONE_OK;
}

/* ---- opening ----------------------------------------------------------------------- */

static int add_shard(hone_st *st, const char *path, hone_err *err) {
    st_shard *ns = realloc(st->shards, (size_t)(st->n_shards + 1) * sizeof *ns);
    if (!ns) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    st->shards = ns;
    st_shard *s = &st->shards[st->n_shards];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    if (!s->path) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    st->n_shards++;
    int rc = hone_map_open(&s->map, path, err);
    if (rc) return rc;
    s->data = s->map.data;
    s->size = s->map.size;
    return HONE_OK;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int open_index(hone_st *st, const char *index_path, hone_err *err) {
    char *text;
    size_t len;
    int rc = hone_file_read_all(index_path, &text, &len, err);
    if (rc) return rc;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return hone_err_set(err, HONE_EFORMAT, "%s: JSON line %d column %d: %s", index_path, je.line,
                            je.column, je.text);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return hone_err_set(err, HONE_EFORMAT, "%s: weight_map: expected an object of tensor -> file", index_path);
    }
    /* directory of the index */
    const char *slash = strrchr(index_path, '/');
    size_t dlen = slash ? (size_t)(slash - index_path + 1) : 0;
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        if (!json_is_string(v) || !json_string_value(v)[0] || strchr(json_string_value(v), '/')) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: weight_map.%s: expected a file name in the same folder",
                              index_path, k);
            break;
        }
        const char *f = json_string_value(v);
        int found = 0;
        for (int s = 0; s < st->n_shards && !found; s++)
            found = !strcmp(st->shards[s].path + dlen, f);
        if (found) continue;
        char *p = malloc(dlen + strlen(f) + 1);
        if (!p) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); break; }
        memcpy(p, index_path, dlen);
        strcpy(p + dlen, f);
        if (!exists(p)) {
            rc = hone_err_set(err, HONE_ENOTFOUND, "%s: weight_map.%s: shard %s is missing", index_path, k, p);
            free(p);
            break;
        }
        rc = add_shard(st, p, err);
        free(p);
        if (rc) break;
    }
    for (int s = 0; !rc && s < st->n_shards; s++) rc = parse_shard(st, s, s == 0, err);
    if (!rc) rc = build_hash(st, err);
    if (!rc) json_object_foreach(wm, k, v) {
        int64_t i = find_name(st, k);
        const char *f = json_string_value(v);
        if (i < 0) {
            rc = hone_err_set(err, HONE_ENOTFOUND, "%s: weight_map.%s: tensor not found in shard %s", index_path, k, f);
            break;
        }
        if (strcmp(st->shards[st->t[i].shard].path + dlen, f)) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: weight_map.%s: names shard %s, but the tensor is in %s",
                              index_path, k, f, st->shards[st->t[i].shard].path);
            break;
        }
    }
    json_decref(root);
    return rc;
}

int hone_st_open(hone_st **out, const char *path, hone_err *err) {
    *out = NULL;
    hone_st *st = calloc(1, sizeof *st);
    if (!st) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    int rc;
    char *idx = NULL;
    if (is_dir(path)) {
        size_t n = strlen(path);
        idx = malloc(n + 64);
        if (!idx) { free(st); return hone_err_set(err, HONE_ENOMEM, "out of memory"); }
        snprintf(idx, n + 64, "%s%smodel.safetensors.index.json", path, n && path[n - 1] == '/' ? "" : "/");
        if (!exists(idx)) {
            snprintf(idx, n + 64, "%s%smodel.safetensors", path, n && path[n - 1] == '/' ? "" : "/");
            if (!exists(idx)) {
                free(idx);
                free(st);
                return hone_err_set(err, HONE_ENOTFOUND, "%s: no model.safetensors.index.json or model.safetensors in this folder", path);
            }
        }
        path = idx;
    }
    if (ends_with(path, ".json")) {
        rc = open_index(st, path, err);
    } else {
        rc = add_shard(st, path, err);
        if (!rc) rc = parse_shard(st, 0, 1, err);
        if (!rc) rc = build_hash(st, err);
    }
    free(idx);
    if (rc) {
        hone_st_close(st);
        return rc;
    }
    *out = st;
    return HONE_OK;
}

int hone_st_open_mem(hone_st **out, const void *data, size_t size, const char *name, hone_err *err) {
    *out = NULL;
    hone_st *st = calloc(1, sizeof *st);
    st_shard *s = calloc(1, sizeof *s);
    if (!st || !s) { free(st); free(s); return hone_err_set(err, HONE_ENOMEM, "out of memory"); }
    st->shards = s;
    st->n_shards = 1;
    s->path = strdup(name ? name : "<memory>");
    s->data = data;
    s->size = size;
    int rc = s->path ? parse_shard(st, 0, 1, err) : hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (!rc) rc = build_hash(st, err);
    if (rc) {
        hone_st_close(st);
        return rc;
    }
    *out = st;
    return HONE_OK;
}

void hone_st_close(hone_st *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    free(st->hash);
    for (int64_t i = 0; i < st->n_meta; i++) {
        free(st->meta_k[i]);
        free(st->meta_v[i]);
    }
    free(st->meta_k);
    free(st->meta_v);
    for (int s = 0; s < st->n_shards; s++) {
        hone_map_close(&st->shards[s].map);
        free(st->shards[s].path);
    }
    free(st->shards);
    free(st);
}

/* ---- accessors ------------------------------------------------------------------------ */

int hone_st_n_shards(const hone_st *st) { return st->n_shards; }
const char *hone_st_shard_path(const hone_st *st, int s) { return st->shards[s].path; }
int64_t hone_st_n_tensors(const hone_st *st) { return st->n; }
int64_t hone_st_find(const hone_st *st, const char *name) { return find_name(st, name); }
const char *hone_st_tensor_name(const hone_st *st, int64_t t) { return st->t[t].name; }
hone_st_dtype hone_st_tensor_dtype(const hone_st *st, int64_t t) { return (hone_st_dtype)st->t[t].dtype; }
uint32_t hone_st_tensor_ndim(const hone_st *st, int64_t t) { return st->t[t].ndim; }
const uint64_t *hone_st_tensor_shape(const hone_st *st, int64_t t) { return st->t[t].shape; }
uint64_t hone_st_tensor_nelem(const hone_st *st, int64_t t) { return st->t[t].nelem; }
uint64_t hone_st_tensor_nbytes(const hone_st *st, int64_t t) { return st->t[t].end - st->t[t].begin; }
int hone_st_tensor_shard(const hone_st *st, int64_t t) { return st->t[t].shard; }
uint64_t hone_st_tensor_offset(const hone_st *st, int64_t t) { return st->t[t].begin; }
const void *hone_st_tensor_data(const hone_st *st, int64_t t) {
    const st_shard *s = &st->shards[st->t[t].shard];
    return s->data + s->data_start + st->t[t].begin;
}

int64_t hone_st_n_meta(const hone_st *st) { return st->n_meta; }
const char *hone_st_meta_key(const hone_st *st, int64_t i) { return st->meta_k[i]; }
const char *hone_st_meta_value(const hone_st *st, int64_t i) { return st->meta_v[i]; }
const char *hone_st_meta_get(const hone_st *st, const char *key) {
    for (int64_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_k[i], key)) return st->meta_v[i];
    return NULL;
}
