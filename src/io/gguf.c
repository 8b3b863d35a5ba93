/* gguf.c: GGUF reader (versions 2 and 3).
 *
 * The file is mmap'd; parsing walks header, metadata and tensor infos through
 * a bounds-checked cursor and never touches tensor data. Everything read from
 * the file is distrusted: counts are bounded by the bytes left before anything
 * is allocated, strings must be valid UTF-8, duplicate keys and tensor names,
 * unknown value or tensor types, element-count overflow, misaligned,
 * out-of-range and overlapping tensor data are errors naming the byte offset.
 * Tensor types ggml defines but hone cannot compute (IQ*, TQ*) still open, so
 * `inspect` can show them; dequantization refuses them by name.
 */
#define _GNU_SOURCE
#include "io/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "util/cursor.h"

const char *hone_gguf_vtype_name(int t) {
    static const char *names[] = {"UINT8", "INT8",  "UINT16", "INT16",  "UINT32",
                                  "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY",
                                  "UINT64", "INT64", "FLOAT64"};
    return t >= 0 && t <= HONE_GGUF_FLOAT64 ? names[t] : NULL;
}

static uint32_t vtype_size(uint32_t t) {
    switch (t) {
    case HONE_GGUF_UINT8: case HONE_GGUF_INT8: case HONE_GGUF_BOOL: return 1;
    case HONE_GGUF_UINT16: case HONE_GGUF_INT16: return 2;
    case HONE_GGUF_UINT32: case HONE_GGUF_INT32: case HONE_GGUF_FLOAT32: return 4;
    case HONE_GGUF_UINT64: case HONE_GGUF_INT64: case HONE_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- small hash set over names --------------------------------------------- */

static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static int str_eq(hone_str a, const char *p, uint64_t n) {
    return a.len == n && memcmp(a.ptr, p, n) == 0;
}

/* Inserts index i (0-based) of name; returns the index already there, or -1. */
static int64_t hash_insert(uint32_t *tab, uint64_t cap, hone_str name, uint32_t i,
                           hone_str (*name_of)(const void *, uint32_t), const void *ctx) {
    uint64_t m = cap - 1, h = hash_bytes(name.ptr, name.len) & m;
    while (tab[h]) {
        hone_str o = name_of(ctx, tab[h] - 1);
        if (str_eq(o, name.ptr, name.len)) return tab[h] - 1;
        h = (h + 1) & m;
    }
    tab[h] = i + 1;
    return -1;
}

static int64_t hash_find(const uint32_t *tab, uint64_t cap, const char *p, uint64_t n,
                         hone_str (*name_of)(const void *, uint32_t), const void *ctx) {
    if (!cap) return -1;
    uint64_t m = cap - 1, h = hash_bytes(p, n) & m;
    while (tab[h]) {
        if (str_eq(name_of(ctx, tab[h] - 1), p, n)) return tab[h] - 1;
        h = (h + 1) & m;
    }
    return -1;
}

static hone_str kv_name(const void *g, uint32_t i) { return ((const hone_gguf *)g)->kv[i].key; }
static hone_str tensor_name(const void *g, uint32_t i) {
    return ((const hone_gguf *)g)->tensors[i].name;
}

static uint64_t pow2_cap(uint64_t n) {
    uint64_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

/* ---- parsing ---------------------------------------------------------------- */

/* printf arguments for a "%.*s" of a name read from the file: at most 120 bytes
 * (a key may be gigabytes long, and (int) of its length could go negative). */
#define NAME_ARGS(s) (int)((s).len > 120 ? 120 : (s).len), (s).ptr

/* Reads a GGUF string; `what` names it in messages. */
static int read_str(hone_cursor *c, hone_str *s, const char *what) {
    uint64_t len;
    size_t at = c->pos;
    if (cursor_u64(c, &len, what)) return HONE_EFORMAT;
    const uint8_t *p = cursor_take(c, len, what);
    if (!p) return HONE_EFORMAT;
    size_t bad;
    if (!utf8_valid(p, (size_t)len, &bad))
        return cursor_fail_at(c, at + 8 + bad, "%s is not valid UTF-8", what);
    s->ptr = (const char *)p;
    s->len = len;
    return HONE_OK;
}

static int read_value(hone_gguf *g, hone_cursor *c, gguf_kv *kv) {
    size_t at = c->pos;
    if (kv->type == HONE_GGUF_STRING) return read_str(c, &kv->str, "string value");
    if (kv->type == HONE_GGUF_ARRAY) {
        uint32_t et;
        if (cursor_u32(c, &et, "array element type") || cursor_u64(c, &kv->arr_n, "array length"))
            return HONE_EFORMAT;
        kv->arr_type = et;
        if (et == HONE_GGUF_ARRAY)
            return cursor_fail_at(c, at, "nested arrays are not supported (key '%.*s')",
                                  NAME_ARGS(kv->key));
        if (et == HONE_GGUF_STRING) {
            /* each string takes at least its 8-byte length */
            if (kv->arr_n > cursor_left(c) / 8)
                return cursor_fail_at(c, at + 4, "array of %llu strings cannot fit in the %zu bytes left",
                                      (unsigned long long)kv->arr_n, cursor_left(c));
            kv->raw = c->base + c->pos;
            kv->strs = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *kv->strs);
            if (!kv->strs) return hone_err_set(c->err, HONE_ENOMEM, "%s: out of memory", c->path);
            for (uint64_t j = 0; j < kv->arr_n; j++)
                if (read_str(c, &kv->strs[j], "array string")) return HONE_EFORMAT;
            return HONE_OK;
        }
        uint32_t es = vtype_size(et);
        if (!es) return cursor_fail_at(c, at, "unknown array element type %u", et);
        if (kv->arr_n > cursor_left(c) / es)
            return cursor_fail_at(c, at + 4, "array of %llu elements cannot fit in the %zu bytes left",
                                  (unsigned long long)kv->arr_n, cursor_left(c));
        kv->raw = cursor_take(c, kv->arr_n * es, "array data");
        if (et == HONE_GGUF_BOOL)
            for (uint64_t j = 0; j < kv->arr_n; j++)
                if (kv->raw[j] > 1)
                    return cursor_fail_at(c, (size_t)(kv->raw + j - c->base),
                                          "bool array element is %u, expected 0 or 1", kv->raw[j]);
        return kv->raw ? HONE_OK : HONE_EFORMAT;
    }
    uint32_t sz = vtype_size(kv->type);
    if (!sz) return cursor_fail_at(c, at - 4, "unknown value type %u for key '%.*s'", kv->type,
                                   NAME_ARGS(kv->key));
    kv->raw = cursor_take(c, sz, "value");
    if (!kv->raw) return HONE_EFORMAT;
    if (kv->type == HONE_GGUF_BOOL && kv->raw[0] > 1)
        return cursor_fail_at(c, at, "bool value is %u, expected 0 or 1", kv->raw[0]);
    (void)g;
    return HONE_OK;
}

static int cmp_tensor_offset(const void *a, const void *b, void *ctx) {
    const gguf_tensor *t = ctx;
    const gguf_tensor *p = &t[*(const uint32_t *)a], *q = &t[*(const uint32_t *)b];
    /* ties by size, smallest first, then by index: the order (and so whether
     * an empty tensor at another's offset counts as overlapping) must not
     * depend on the sort algorithm */
    if (p->offset != q->offset) return p->offset < q->offset ? -1 : 1;
    if (p->nbytes != q->nbytes) return p->nbytes < q->nbytes ? -1 : 1;
    return p < q ? -1 : p > q;
}

static int parse(hone_gguf *g, hone_err *err) {
    hone_cursor c;
    cursor_init(&c, g->data, g->size, g->path, err);
    const uint8_t *magic = cursor_take(&c, 4, "magic \"GGUF\"");
    if (!magic) return HONE_EFORMAT;
    if (memcmp(magic, "GGUF", 4) != 0)
        return cursor_fail_at(&c, 0, "expected magic \"GGUF\", found %02x %02x %02x %02x: not a GGUF file",
                              magic[0], magic[1], magic[2], magic[3]);
    if (cursor_u32(&c, &g->version, "version")) return HONE_EFORMAT;
    if (g->version == 1)
        return cursor_fail_at(&c, 4, "GGUF version 1 is not supported (expected 2 or 3)");
    if (g->version != 2 && g->version != 3) {
        uint32_t v = g->version;
        if ((v & 0xFFFF) == 0 && v >> 16)
            return cursor_fail_at(&c, 4, "version %u looks byte-swapped: big-endian GGUF is not supported", v);
        return cursor_fail_at(&c, 4, "unsupported GGUF version %u (expected 2 or 3)", v);
    }
    uint64_t n_tensors, n_kv;
    if (cursor_u64(&c, &n_tensors, "tensor count") || cursor_u64(&c, &n_kv, "metadata count"))
        return HONE_EFORMAT;
    /* a key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; the
     * hash tables hold indices + 1 in a uint32_t (a limit only > 55 GB hits) */
    if (n_kv > cursor_left(&c) / 13 || n_kv > UINT32_MAX / 2)
        return cursor_fail_at(&c, 16, "metadata count %llu cannot fit in the %zu bytes left",
                              (unsigned long long)n_kv, cursor_left(&c));
    /* a tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes */
    if (n_tensors > cursor_left(&c) / 32 || n_tensors > UINT32_MAX / 2)
        return cursor_fail_at(&c, 8, "tensor count %llu cannot fit in the %zu bytes left",
                              (unsigned long long)n_tensors, cursor_left(&c));

    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->kv_cap = pow2_cap(n_kv);
    g->kv_hash = calloc(g->kv_cap, sizeof *g->kv_hash);
    if (!g->kv || !g->kv_hash) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", g->path);
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        size_t at = c.pos;
        if (read_str(&c, &kv->key, "metadata key")) return HONE_EFORMAT;
        g->n_kv = (int64_t)i + 1; /* so close() frees what was allocated */
        if (kv->key.len == 0) return cursor_fail_at(&c, at, "empty metadata key");
        if (hash_insert(g->kv_hash, g->kv_cap, kv->key, (uint32_t)i, kv_name, g) >= 0)
            return cursor_fail_at(&c, at, "duplicate metadata key '%.*s'", NAME_ARGS(kv->key));
        if (cursor_u32(&c, &kv->type, "value type") || read_value(g, &c, kv)) return HONE_EFORMAT;
        if (str_eq(kv->key, "general.alignment", 17)) {
            uint32_t a;
            if (kv->type != HONE_GGUF_UINT32)
                return cursor_fail_at(&c, at, "general.alignment has type %s, expected UINT32",
                                      hone_gguf_vtype_name((int)kv->type));
            memcpy(&a, kv->raw, 4);
            if (a == 0 || (a & (a - 1)))
                return cursor_fail_at(&c, at, "general.alignment is %u, expected a power of two", a);
            g->alignment = a;
        }
    }

    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    g->tensor_cap = pow2_cap(n_tensors);
    g->tensor_hash = calloc(g->tensor_cap, sizeof *g->tensor_hash);
    if (!g->tensors || !g->tensor_hash) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", g->path);
    size_t *info_at = malloc((n_tensors ? n_tensors : 1) * sizeof *info_at);
    if (!info_at) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", g->path);
    int rc = HONE_OK;
    for (uint64_t i = 0; i < n_tensors && !rc; i++) {
        gguf_tensor *t = &g->tensors[i];
        size_t at = info_at[i] = c.pos;
        if (read_str(&c, &t->name, "tensor name")) { rc = HONE_EFORMAT; break; }
        g->n_tensors = (int64_t)i + 1;
        if (t->name.len == 0 || t->name.len > GGUF_MAX_NAME) {
            rc = cursor_fail_at(&c, at, "tensor name of %llu bytes, expected 1 to %d",
                                (unsigned long long)t->name.len, GGUF_MAX_NAME);
            break;
        }
        if (hash_insert(g->tensor_hash, g->tensor_cap, t->name, (uint32_t)i, tensor_name, g) >= 0) {
            rc = cursor_fail_at(&c, at, "duplicate tensor name '%.*s'", (int)t->name.len, t->name.ptr);
            break;
        }
        size_t dims_at = c.pos;
        if (cursor_u32(&c, &t->n_dims, "tensor dimension count")) { rc = HONE_EFORMAT; break; }
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS) {
            rc = cursor_fail_at(&c, dims_at, "tensor '%.*s' has %u dimensions, expected 1 to %d",
                                (int)t->name.len, t->name.ptr, t->n_dims, GGUF_MAX_DIMS);
            break;
        }
        t->nelem = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims && !rc; d++) {
            size_t ne_at = c.pos;
            if (cursor_u64(&c, &t->ne[d], "tensor dimension")) { rc = HONE_EFORMAT; break; }
            if (t->ne[d] > (uint64_t)INT64_MAX ||
                (t->ne[d] && t->nelem > (uint64_t)INT64_MAX / t->ne[d]))
                rc = cursor_fail_at(&c, ne_at, "tensor '%.*s': element count overflows",
                                    (int)t->name.len, t->name.ptr);
            else
                t->nelem *= t->ne[d];
        }
        if (rc) break;
        size_t type_at = c.pos;
        if (cursor_u32(&c, &t->type, "tensor type") || cursor_u64(&c, &t->offset, "tensor offset")) {
            rc = HONE_EFORMAT;
            break;
        }
        const char *tn = hone_dtype_name((int)t->type);
        if (!tn) {
            rc = cursor_fail_at(&c, type_at, "tensor '%.*s' has unknown type id %u",
                                (int)t->name.len, t->name.ptr, t->type);
            break;
        }
        uint32_t blk = hone_dtype_block((int)t->type);
        if (t->ne[0] % blk) {
            rc = cursor_fail_at(&c, dims_at, "tensor '%.*s': row length %llu is not a multiple of %s's block of %u",
                                (int)t->name.len, t->name.ptr, (unsigned long long)t->ne[0], tn, blk);
            break;
        }
        uint64_t rb = hone_dtype_row_bytes((int)t->type, t->ne[0]);
        uint64_t rows = t->ne[0] ? t->nelem / t->ne[0] : 0;
        if (rb == UINT64_MAX || (rows && rb > UINT64_MAX / rows)) {
            rc = cursor_fail_at(&c, dims_at, "tensor '%.*s': byte size overflows",
                                (int)t->name.len, t->name.ptr);
            break;
        }
        t->nbytes = rb * rows;
        if (t->offset % g->alignment) {
            rc = cursor_fail_at(&c, type_at + 4, "tensor '%.*s' offset %llu is not a multiple of the alignment %llu",
                                (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                                (unsigned long long)g->alignment);
            break;
        }
    }
    if (!rc) {
        /* A file with no tensors may end before the padding; only then is a
         * short file fine (and nothing is written into err on success). */
        uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
        if (pad <= cursor_left(&c))
            g->data_offset = c.pos + pad;
        else if (!n_tensors)
            g->data_offset = c.size;
        else if (cursor_align(&c, g->alignment, "padding before tensor data"))
            rc = HONE_EFORMAT;
    }
    if (!rc) {
        uint64_t data_size = g->size - g->data_offset;
        for (int64_t i = 0; i < g->n_tensors && !rc; i++) {
            gguf_tensor *t = &g->tensors[i];
            if (t->offset > data_size || t->nbytes > data_size - t->offset)
                rc = cursor_fail_at(&c, info_at[i], "tensor '%.*s' data [%llu, +%llu) lies past the end of the file (data section holds %llu bytes)",
                                    (int)t->name.len, t->name.ptr,
                                    (unsigned long long)(g->data_offset + t->offset),
                                    (unsigned long long)t->nbytes, (unsigned long long)data_size);
        }
    }
    if (!rc && g->n_tensors > 1) {
        uint32_t *order = malloc(g->n_tensors * sizeof *order);
        if (!order) rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", g->path);
        for (int64_t i = 0; !rc && i < g->n_tensors; i++) order[i] = (uint32_t)i;
        if (!rc) qsort_r(order, g->n_tensors, sizeof *order, cmp_tensor_offset, g->tensors);
        for (int64_t i = 1; !rc && i < g->n_tensors; i++) {
            const gguf_tensor *a = &g->tensors[order[i - 1]], *b = &g->tensors[order[i]];
            if (a->offset + a->nbytes > b->offset)
                rc = cursor_fail_at(&c, info_at[order[i]], "tensor '%.*s' data overlaps tensor '%.*s'",
                                    (int)b->name.len, b->name.ptr, (int)a->name.len, a->name.ptr);
        }
        free(order);
    }
    free(info_at);
    return rc;
}

static int gguf_open_common(hone_gguf **out, hone_gguf *g, const char *name, hone_err *err) {
    *out = NULL;
    g->path = strdup(name ? name : "<memory>");
    if (!g->path) {
        hone_gguf_close(g);
        return hone_err_set(err, HONE_ENOMEM, "out of memory");
    }
    int rc = parse(g, err);
    if (rc) {
        hone_gguf_close(g);
        return rc;
    }
    *out = g;
    return HONE_OK;
}

int hone_gguf_open(hone_gguf **out, const char *path, hone_err *err) {
    *out = NULL;
    hone_gguf *g = calloc(1, sizeof *g);
    if (!g) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    int rc = hone_map_open(&g->map, path, err);
    if (rc) {
        free(g);
        return rc;
    }
    g->data = g->map.data;
    g->size = g->map.size;
    return gguf_open_common(out, g, path, err);
}

int hone_gguf_open_mem(hone_gguf **out, const void *data, size_t size, const char *name,
                       hone_err *err) {
    *out = NULL;
    hone_gguf *g = calloc(1, sizeof *g);
    if (!g) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    g->data = data;
    g->size = size;
    return gguf_open_common(out, g, name, err);
}

void hone_gguf_close(hone_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) free(g->kv[i].strs);
    free(g->kv);
    free(g->kv_hash);
    free(g->tensors);
    free(g->tensor_hash);
    hone_map_close(&g->map);
    free(g->path);
    free(g);
}

/* ---- accessors --------------------------------------------------------------- */

uint32_t hone_gguf_version(const hone_gguf *g) { return g->version; }
uint64_t hone_gguf_alignment(const hone_gguf *g) { return g->alignment; }
uint64_t hone_gguf_data_offset(const hone_gguf *g) { return g->data_offset; }
uint64_t hone_gguf_file_size(const hone_gguf *g) { return g->size; }
const char *hone_gguf_path(const hone_gguf *g) { return g->path; }
int64_t hone_gguf_n_kv(const hone_gguf *g) { return g->n_kv; }
int64_t hone_gguf_n_tensors(const hone_gguf *g) { return g->n_tensors; }

int64_t hone_gguf_find_key(const hone_gguf *g, const char *key) {
    return hash_find(g->kv_hash, g->kv_cap, key, strlen(key), kv_name, g);
}

int64_t hone_gguf_find_tensor(const hone_gguf *g, const char *name) {
    return hash_find(g->tensor_hash, g->tensor_cap, name, strlen(name), tensor_name, g);
}

hone_str hone_gguf_kv_key(const hone_gguf *g, int64_t i) { return g->kv[i].key; }
hone_gguf_vtype hone_gguf_kv_type(const hone_gguf *g, int64_t i) { return (hone_gguf_vtype)g->kv[i].type; }
hone_gguf_vtype hone_gguf_arr_type(const hone_gguf *g, int64_t i) { return (hone_gguf_vtype)g->kv[i].arr_type; }
uint64_t hone_gguf_arr_n(const hone_gguf *g, int64_t i) {
    return g->kv[i].type == HONE_GGUF_ARRAY ? g->kv[i].arr_n : 0;
}
const void *hone_gguf_arr_data(const hone_gguf *g, int64_t i) { return g->kv[i].raw; }
hone_str hone_gguf_kv_str(const hone_gguf *g, int64_t i) { return g->kv[i].str; }

hone_str hone_gguf_arr_str(const hone_gguf *g, int64_t i, uint64_t j) {
    const gguf_kv *kv = &g->kv[i];
    if (!kv->strs || j >= kv->arr_n) return (hone_str){NULL, 0};
    return kv->strs[j];
}

/* Number at p of type t, as double (integers beyond 2^53 lose precision; use the
 * integer accessors for those). */
static double num_at(const uint8_t *p, uint32_t t) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } v;
    memcpy(&v, p, vtype_size(t));
    switch (t) {
    case HONE_GGUF_UINT8: case HONE_GGUF_BOOL: return v.u8;
    case HONE_GGUF_INT8: return v.i8;
    case HONE_GGUF_UINT16: return v.u16;
    case HONE_GGUF_INT16: return v.i16;
    case HONE_GGUF_UINT32: return v.u32;
    case HONE_GGUF_INT32: return v.i32;
    case HONE_GGUF_FLOAT32: return v.f32;
    case HONE_GGUF_UINT64: return (double)v.u64;
    case HONE_GGUF_INT64: return (double)v.i64;
    case HONE_GGUF_FLOAT64: return v.f64;
    default: return 0;
    }
}

static int64_t int_at(const uint8_t *p, uint32_t t) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; } v;
    memcpy(&v, p, vtype_size(t));
    switch (t) {
    case HONE_GGUF_UINT8: case HONE_GGUF_BOOL: return v.u8;
    case HONE_GGUF_INT8: return v.i8;
    case HONE_GGUF_UINT16: return v.u16;
    case HONE_GGUF_INT16: return v.i16;
    case HONE_GGUF_UINT32: return v.u32;
    case HONE_GGUF_INT32: return v.i32;
    case HONE_GGUF_UINT64: return (int64_t)v.u64;
    case HONE_GGUF_INT64: return v.i64;
    default: return 0;
    }
}

static int is_int(uint32_t t) {
    return t != HONE_GGUF_FLOAT32 && t != HONE_GGUF_FLOAT64 && vtype_size(t) != 0;
}

double hone_gguf_arr_f64(const hone_gguf *g, int64_t i, uint64_t j) {
    const gguf_kv *kv = &g->kv[i];
    uint32_t es = vtype_size(kv->arr_type);
    if (kv->type != HONE_GGUF_ARRAY || !es || j >= kv->arr_n) return 0;
    return num_at(kv->raw + j * es, kv->arr_type);
}

uint64_t hone_gguf_kv_u64(const hone_gguf *g, int64_t i) {
    const gguf_kv *kv = &g->kv[i];
    if (!is_int(kv->type)) return 0;
    if (kv->type == HONE_GGUF_UINT64) { uint64_t v; memcpy(&v, kv->raw, 8); return v; }
    return (uint64_t)int_at(kv->raw, kv->type);
}

int64_t hone_gguf_kv_i64(const hone_gguf *g, int64_t i) {
    const gguf_kv *kv = &g->kv[i];
    return is_int(kv->type) ? int_at(kv->raw, kv->type) : 0;
}

double hone_gguf_kv_f64(const hone_gguf *g, int64_t i) {
    const gguf_kv *kv = &g->kv[i];
    return vtype_size(kv->type) ? num_at(kv->raw, kv->type) : 0;
}

int hone_gguf_get_u32(const hone_gguf *g, const char *key, uint32_t *out) {
    int64_t i = hone_gguf_find_key(g, key);
    if (i < 0 || !is_int(g->kv[i].type)) return HONE_ENOTFOUND;
    int64_t v = int_at(g->kv[i].raw, g->kv[i].type);
    if (g->kv[i].type == HONE_GGUF_UINT64) {
        uint64_t u;
        memcpy(&u, g->kv[i].raw, 8);
        if (u > UINT32_MAX) return HONE_EFORMAT;
        v = (int64_t)u;
    }
    if (v < 0 || v > (int64_t)UINT32_MAX) return HONE_EFORMAT;
    *out = (uint32_t)v;
    return HONE_OK;
}

int hone_gguf_get_f32(const hone_gguf *g, const char *key, float *out) {
    int64_t i = hone_gguf_find_key(g, key);
    if (i < 0 || !vtype_size(g->kv[i].type) || g->kv[i].type == HONE_GGUF_BOOL) return HONE_ENOTFOUND;
    *out = (float)num_at(g->kv[i].raw, g->kv[i].type);
    return HONE_OK;
}

int hone_gguf_get_str(const hone_gguf *g, const char *key, hone_str *out) {
    int64_t i = hone_gguf_find_key(g, key);
    if (i < 0 || g->kv[i].type != HONE_GGUF_STRING) return HONE_ENOTFOUND;
    *out = g->kv[i].str;
    return HONE_OK;
}

hone_str hone_gguf_tensor_name(const hone_gguf *g, int64_t t) { return g->tensors[t].name; }
int hone_gguf_tensor_type(const hone_gguf *g, int64_t t) { return (int)g->tensors[t].type; }
uint32_t hone_gguf_tensor_ndim(const hone_gguf *g, int64_t t) { return g->tensors[t].n_dims; }
void hone_gguf_tensor_shape(const hone_gguf *g, int64_t t, uint64_t ne[4]) {
    memcpy(ne, g->tensors[t].ne, sizeof g->tensors[t].ne);
}
uint64_t hone_gguf_tensor_nelem(const hone_gguf *g, int64_t t) { return g->tensors[t].nelem; }
uint64_t hone_gguf_tensor_offset(const hone_gguf *g, int64_t t) { return g->tensors[t].offset; }
uint64_t hone_gguf_tensor_nbytes(const hone_gguf *g, int64_t t) { return g->tensors[t].nbytes; }
const void *hone_gguf_tensor_data(const hone_gguf *g, int64_t t) {
    return g->data + g->data_offset + g->tensors[t].offset;
}
