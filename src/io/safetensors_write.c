/* safetensors_write.c: safetensors writer, single file and HF-style shards
 * (API and file layout in hone/safetensors_write.h).
 *
 * Tensors are collected with where their bytes come from (a pointer or a fill callback);
 * at write time the chosen set is ordered as the reference implementation orders it (dtype
 * rank descending, then name), offsets are assigned back to back, the header is built with
 * jansson (compact, insertion-ordered, so "__metadata__" comes first) and padded with
 * spaces to a multiple of 8, and the file goes through hone_wfile (temporary + rename).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hone/safetensors_write.h"
#include "io/sink.h"
#include "util/cursor.h"
#include "util/err.h"
#include "util/fileio.h"

typedef struct st_tensor {
    char *name;
    int dtype;
    uint32_t ndim;
    uint64_t shape[HONE_ST_MAX_DIMS];
    uint64_t nbytes;
    const void *data; /* (nbytes), or NULL when fill is set */
    hone_tensor_fill_fn fill;
    void *ctx;
} st_tensor;

struct hone_st_writer {
    st_tensor *t;
    int64_t n_t, t_cap;
    char **meta; /* (n_meta × 2): key, value */
    int64_t n_meta, meta_cap;
};

/* Rank in the reference's Dtype enum (BOOL < U8 < I8 < I16 < U16 < F16 < BF16 < I32 < U32 <
 * F32 < F64 < I64 < U64); it sorts by rank descending. 0 = not offered. */
static int dtype_rank(int d) {
    switch (d) {
    case HONE_I8: return 3;
    case HONE_I16: return 4;
    case HONE_F16: return 6;
    case HONE_BF16: return 7;
    case HONE_I32: return 8;
    case HONE_F32: return 10;
    case HONE_F64: return 11;
    case HONE_I64: return 12;
    default: return 0;
    }
}

static uint32_t dtype_size(int d) {
    switch (d) {
    case HONE_I8: return 1;
    case HONE_I16: case HONE_F16: case HONE_BF16: return 2;
    case HONE_I32: case HONE_F32: return 4;
    case HONE_I64: case HONE_F64: return 8;
    default: return 0;
    }
}

const char *hone_st_dtype_name(int d) { return dtype_rank(d) ? hone_dtype_name(d) : NULL; }

void hone_st_shape_from_ne(uint32_t n_dims, const uint64_t *ne, uint64_t *shape) {
    for (uint32_t i = 0; i < n_dims; i++) shape[i] = ne[n_dims - 1 - i];
}

int hone_st_writer_init(hone_st_writer **out, hone_err *err) {
    *out = calloc(1, sizeof **out);
    return *out ? HONE_OK : hone_err_set(err, HONE_ENOMEM, "safetensors writer: out of memory");
}

void hone_st_writer_free(hone_st_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    for (int64_t i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

int64_t hone_st_writer_n_tensors(const hone_st_writer *w) { return w->n_t; }

static int check_str(const char *s, const char *what, hone_err *err) {
    size_t bad;
    if (!s) return hone_err_set(err, HONE_EARG, "safetensors writer: NULL %s", what);
    if (!utf8_valid((const uint8_t *)s, strlen(s), &bad))
        return hone_err_set(err, HONE_EARG, "safetensors writer: %s '%s' is not valid UTF-8 at byte %zu",
                            what, s, bad);
    return HONE_OK;
}

int hone_st_writer_add_meta(hone_st_writer *w, const char *key, const char *value, hone_err *err) {
    int rc = check_str(key, "metadata key", err);
    if (!rc) rc = check_str(value, "metadata value", err);
    if (rc) return rc;
    for (int64_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0)
            return hone_err_set(err, HONE_EARG, "safetensors writer: duplicate metadata key '%s'", key);
    if (w->n_meta == w->meta_cap) {
        int64_t nc = w->meta_cap ? 2 * w->meta_cap : 8;
        char **nm = realloc(w->meta, (size_t)nc * 2 * sizeof *nm);
        if (!nm) return hone_err_set(err, HONE_ENOMEM, "safetensors writer: out of memory");
        w->meta = nm;
        w->meta_cap = nc;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return hone_err_set(err, HONE_ENOMEM, "safetensors writer: out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return HONE_OK;
}

static int tensor_add(hone_st_writer *w, const char *name, int dtype, uint32_t ndim,
                      const uint64_t *shape, const void *data, hone_tensor_fill_fn fill, void *ctx,
                      hone_err *err) {
    int rc = check_str(name, "tensor name", err);
    if (rc) return rc;
    if (!*name || strcmp(name, "__metadata__") == 0)
        return hone_err_set(err, HONE_EARG, "safetensors writer: tensor name '%s' is not allowed", name);
    uint32_t es = dtype_size(dtype);
    if (!es)
        return hone_err_set(err, HONE_EUNSUPPORTED, "safetensors writer: tensor '%s': dtype %s (%d) is not offered (F32, F16, BF16, F64, I8, I16, I32, I64)",
                            name, hone_dtype_name(dtype) ? hone_dtype_name(dtype) : "?", dtype);
    if (ndim > HONE_ST_MAX_DIMS || (ndim && !shape))
        return hone_err_set(err, HONE_EARG, "safetensors writer: tensor '%s' has %u dimensions, at most %d allowed",
                            name, ndim, HONE_ST_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (shape[d] > (uint64_t)INT64_MAX || (shape[d] && n > ((uint64_t)INT64_MAX / es) / shape[d]))
            return hone_err_set(err, HONE_EARG, "safetensors writer: tensor '%s': byte size overflows", name);
        n *= shape[d];
    }
    if (!data && !fill && n)
        return hone_err_set(err, HONE_EARG, "safetensors writer: tensor '%s': no data", name);
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return hone_err_set(err, HONE_EARG, "safetensors writer: duplicate tensor name '%s'", name);
    if (w->n_t == w->t_cap) {
        int64_t nc = w->t_cap ? 2 * w->t_cap : 64;
        st_tensor *nt = realloc(w->t, (size_t)nc * sizeof *nt);
        if (!nt) return hone_err_set(err, HONE_ENOMEM, "safetensors writer: out of memory");
        w->t = nt;
        w->t_cap = nc;
    }
    st_tensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return hone_err_set(err, HONE_ENOMEM, "safetensors writer: out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (uint32_t d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->nbytes = n * es;
    t->data = data;
    t->fill = fill;
    t->ctx = ctx;
    w->n_t++;
    return HONE_OK;
}

int hone_st_writer_add_tensor(hone_st_writer *w, const char *name, int dtype, uint32_t ndim,
                              const uint64_t *shape, const void *data, hone_err *err) {
    return tensor_add(w, name, dtype, ndim, shape, data, NULL, NULL, err);
}

int hone_st_writer_add_tensor_fn(hone_st_writer *w, const char *name, int dtype, uint32_t ndim,
                                 const uint64_t *shape, hone_tensor_fill_fn fill, void *ctx,
                                 hone_err *err) {
    if (!fill)
        return hone_err_set(err, HONE_EARG, "safetensors writer: tensor '%s': NULL fill function", name ? name : "");
    return tensor_add(w, name, dtype, ndim, shape, NULL, fill, ctx, err);
}

/* ---- one file ----------------------------------------------------------------- */

static int cmp_tensor(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Builds the padded header for ts[0..n) (already in file order). */
static int build_header(const hone_st_writer *w, st_tensor **ts, int64_t n, char **out,
                        size_t *out_len, const char *path, hone_err *err) {
    json_t *root = json_object();
    int bad = !root;
    if (!bad && w->n_meta) {
        json_t *m = json_object();
        for (int64_t i = 0; i < w->n_meta; i++)
            bad |= json_object_set_new(m, w->meta[2 * i], json_string(w->meta[2 * i + 1]));
        bad |= json_object_set_new(root, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < n && !bad; i++) {
        const st_tensor *t = ts[i];
        /* jansson's *_new calls take the value even when they fail (NULL containers too), so
         * `|` (not `||`) runs them all and nothing leaks on an allocation failure. */
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        for (uint32_t d = 0; d < t->ndim; d++)
            bad |= json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        bad |= json_array_append_new(offs, json_integer((json_int_t)off));
        bad |= json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes)));
        bad |= json_object_set_new(e, "dtype", json_string(hone_dtype_name(t->dtype)));
        bad |= json_object_set_new(e, "shape", shape);
        bad |= json_object_set_new(e, "data_offsets", offs);
        bad |= json_object_set_new(root, t->name, e);
        off += t->nbytes;
    }
    char *s = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "%s: cannot build the safetensors header", path);
    size_t len = strlen(s), padded = (len + 7) / 8 * 8;
    char *buf = malloc(padded ? padded : 1);
    if (!buf) {
        free(s);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    memcpy(buf, s, len);
    memset(buf + len, ' ', padded - len);
    free(s);
    *out = buf;
    *out_len = padded;
    return HONE_OK;
}

/* Writes ts[0..n) (any order; sorted here) to path. */
static int write_file(const hone_st_writer *w, st_tensor **ts, int64_t n, const char *path,
                      hone_err *err) {
    qsort(ts, (size_t)n, sizeof *ts, cmp_tensor);
    char *hdr = NULL;
    size_t hlen = 0;
    int rc = build_header(w, ts, n, &hdr, &hlen, path, err);
    if (rc) return rc;
    hone_wfile f;
    rc = hone_wfile_open(&f, path, err);
    if (rc) {
        free(hdr);
        return rc;
    }
    uint64_t n8 = hlen;
    rc = hone_wfile_write(&f, &n8, 8, err);
    if (!rc) rc = hone_wfile_write(&f, hdr, hlen, err);
    free(hdr);
    for (int64_t i = 0; i < n && !rc; i++) {
        const st_tensor *t = ts[i];
        if (t->fill) {
            char what[300];
            snprintf(what, sizeof what, "tensor '%.250s'", t->name);
            rc = sink_fill(&f, what, t->nbytes, t->fill, t->ctx, err);
        } else {
            rc = hone_wfile_write(&f, t->data, (size_t)t->nbytes, err);
        }
    }
    if (rc) {
        hone_wfile_abort(&f);
        return rc;
    }
    return hone_wfile_commit(&f, err);
}

int hone_st_writer_write(hone_st_writer *w, const char *path, hone_err *err) {
    st_tensor **ts = malloc((w->n_t ? w->n_t : 1) * sizeof *ts);
    if (!ts) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < w->n_t; i++) ts[i] = &w->t[i];
    int rc = write_file(w, ts, w->n_t, path, err);
    free(ts);
    return rc;
}

/* ---- shards ------------------------------------------------------------------- */

int hone_st_writer_write_sharded(hone_st_writer *w, const char *dir, const char *prefix,
                                 uint64_t max_shard_bytes, int *n_shards, hone_err *err) {
    if (!prefix) prefix = "model";
    if (!dir || !*dir || max_shard_bytes == 0)
        return hone_err_set(err, HONE_EARG, "safetensors writer: sharding needs a directory and a non-zero shard size");
    /* shard index of each tensor, HF's greedy rule in insertion order */
    int *shard = malloc((w->n_t ? w->n_t : 1) * sizeof *shard);
    st_tensor **ts = malloc((w->n_t ? w->n_t : 1) * sizeof *ts);
    if (!shard || !ts) {
        free(shard);
        free(ts);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", dir);
    }
    /* As huggingface_hub's split_state_dict_into_shards_factory: a tensor over the limit is
     * appended as a shard of its own when met; the open shard gets its number when it closes. */
    int ns = 0;
    uint64_t cur = 0, total = 0;
    int64_t open_from = -1; /* first tensor of the open shard, -1 if none */
    for (int64_t i = 0; i < w->n_t; i++) {
        uint64_t b = w->t[i].nbytes;
        total += b;
        if (b > max_shard_bytes) {
            shard[i] = ns++;
            continue;
        }
        if (open_from >= 0 && cur + b > max_shard_bytes) {
            for (int64_t j = open_from; j < i; j++)
                if (shard[j] < 0) shard[j] = ns;
            ns++;
            open_from = -1;
        }
        if (open_from < 0) {
            open_from = i;
            cur = 0;
        }
        shard[i] = -1;
        cur += b;
    }
    if (open_from >= 0) {
        for (int64_t j = open_from; j < w->n_t; j++)
            if (shard[j] < 0) shard[j] = ns;
        ns++;
    }
    if (ns == 0) ns = 1; /* no tensors: one empty file */
    if (ns > 99999) {
        free(shard);
        free(ts);
        return hone_err_set(err, HONE_EARG, "%s: %d shards, at most 99999", dir, ns);
    }
    int rc = HONE_OK;
    size_t plen = strlen(dir) + strlen(prefix) + 64;
    char *path = malloc(plen);
    char **names = calloc((size_t)ns, sizeof *names);
    if (!path || !names) rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", dir);
    for (int s = 0; s < ns && !rc; s++) {
        char base[300];
        if (ns == 1)
            snprintf(base, sizeof base, "%.200s.safetensors", prefix);
        else
            snprintf(base, sizeof base, "%.200s-%05d-of-%05d.safetensors", prefix, s + 1, ns);
        names[s] = strdup(base);
        if (!names[s]) { rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", dir); break; }
        int64_t k = 0;
        for (int64_t i = 0; i < w->n_t; i++)
            if (shard[i] == s) ts[k++] = &w->t[i];
        snprintf(path, plen, "%s/%s", dir, base);
        rc = write_file(w, ts, k, path, err);
    }
    if (!rc && ns > 1) {
        json_t *root = json_object(), *meta = json_object(), *map = json_object();
        int bad = !root; /* the *_new calls take their value even on failure: see build_header */
        bad |= json_object_set_new(meta, "total_size", json_integer((json_int_t)total));
        for (int64_t i = 0; i < w->n_t; i++)
            bad |= json_object_set_new(map, w->t[i].name, json_string(names[shard[i]]));
        bad |= json_object_set_new(root, "metadata", meta);
        bad |= json_object_set_new(root, "weight_map", map);
        char *s = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(root);
        if (!s) rc = hone_err_set(err, HONE_ENOMEM, "%s: cannot build the shard index", dir);
        else {
            snprintf(path, plen, "%s/%s.safetensors.index.json", dir, prefix);
            hone_wfile f;
            rc = hone_wfile_open(&f, path, err);
            if (!rc) {
                rc = hone_wfile_write(&f, s, strlen(s), err);
                if (!rc) rc = hone_wfile_write(&f, "\n", 1, err);
                if (rc) hone_wfile_abort(&f);
                else rc = hone_wfile_commit(&f, err);
            }
            free(s);
        }
    }
    if (!rc && n_shards) *n_shards = ns;
    for (int s = 0; names && s < ns; s++) free(names[s]);
    free(names);
    free(path);
    free(shard);
    free(ts);
    return rc;
}
