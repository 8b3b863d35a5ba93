/* hone/safetensors.h: public API, safetensors reader (one file, or a sharded
 * HF folder via model.safetensors.index.json). The writer lives in its own header.
 * Included by hone.h; see its conventions.
 *
 * A safetensors file is: u64 header length N (little-endian), N bytes of JSON
 * {"NAME": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]},
 *  ..., "__metadata__": {"key": "value", ...}}, then the data section; offsets
 * are relative to the start of the data section (byte 8 + N). Shapes are in
 * row-major order (d0 outermost), the reverse of ggml's ne[]. */
#ifndef HONE_SAFETENSORS_H
#define HONE_SAFETENSORS_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

/* safetensors element types (the dtype strings of the format). */
typedef enum hone_st_dtype {
    HONE_ST_BOOL, HONE_ST_U8, HONE_ST_I8, HONE_ST_U16, HONE_ST_I16, HONE_ST_F16, HONE_ST_BF16,
    HONE_ST_U32, HONE_ST_I32, HONE_ST_F32, HONE_ST_U64, HONE_ST_I64, HONE_ST_F64,
    HONE_ST_F8_E4M3, HONE_ST_F8_E5M2, /* readable and listed; no ggml equivalent */
    HONE_ST_DTYPE_COUNT,
} hone_st_dtype;

const char *hone_st_dtype_str(int dtype); /* "BF16", or NULL */
uint32_t hone_st_dtype_size(int dtype);    /* bytes per element, 0 if unknown */
/* The ggml type id (hone_dtype) with the same element encoding, or -1 (BOOL, U*). */
int hone_st_dtype_to_ggml(int dtype);

#define HONE_ST_MAX_DIMS 8

typedef struct hone_st hone_st;

/* Opens PATH: a .safetensors file, a model.safetensors.index.json, or an HF
 * folder (its model.safetensors.index.json if present, else model.safetensors).
 * Headers are parsed and every tensor's extent checked; no tensor data is read. */
int hone_st_open(hone_st **out, const char *path, hone_err *err);
/* One file held in a caller-owned buffer (tests, fuzzing); it must outlive st. */
int hone_st_open_mem(hone_st **out, const void *data, size_t size, const char *name,
                     hone_err *err);
void hone_st_close(hone_st *st);

/* Shards (1 for a single file), with their paths. */
int hone_st_n_shards(const hone_st *st);
const char *hone_st_shard_path(const hone_st *st, int shard);

/* Tensors, ordered by (shard, data offset). Index-based; -1 when absent. */
int64_t hone_st_n_tensors(const hone_st *st);
int64_t hone_st_find(const hone_st *st, const char *name);
const char *hone_st_tensor_name(const hone_st *st, int64_t t);
hone_st_dtype hone_st_tensor_dtype(const hone_st *st, int64_t t);
uint32_t hone_st_tensor_ndim(const hone_st *st, int64_t t);
/* shape[0..ndim) in file (row-major) order; a 0-d tensor has ndim 0, one element. */
const uint64_t *hone_st_tensor_shape(const hone_st *st, int64_t t);
uint64_t hone_st_tensor_nelem(const hone_st *st, int64_t t);
uint64_t hone_st_tensor_nbytes(const hone_st *st, int64_t t);
int hone_st_tensor_shard(const hone_st *st, int64_t t);
uint64_t hone_st_tensor_offset(const hone_st *st, int64_t t); /* relative to its shard's data section */
const void *hone_st_tensor_data(const hone_st *st, int64_t t); /* into the mapping, unaligned */

/* __metadata__ (string -> string) of the first shard; index-file "metadata"
 * entries are not included. Keys in file order; NULL when absent. */
int64_t hone_st_n_meta(const hone_st *st);
const char *hone_st_meta_key(const hone_st *st, int64_t i);
const char *hone_st_meta_value(const hone_st *st, int64_t i);
const char *hone_st_meta_get(const hone_st *st, const char *key);

#ifdef __cplusplus
}
#endif
#endif
