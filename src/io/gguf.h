/* gguf.h: internal view of a parsed GGUF file (the public accessors are in hone.h).
 *
 * Layout of a GGUF file (v2/v3, little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv × { string key, u32 vtype, value },          string = u64 len + bytes
 *   n_tensors × { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   padding to general.alignment (default 32), tensor data.
 */
#ifndef HONE_IO_GGUF_H
#define HONE_IO_GGUF_H

#include "hone.h"
#include "util/fileio.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 63 /* bytes in a tensor name (ggml's GGML_MAX_NAME - 1) */
#define GGUF_MAX_DIMS 4

typedef struct gguf_kv {
    hone_str key;
    uint32_t type;     /* hone_gguf_vtype */
    uint32_t arr_type; /* element type when type == ARRAY */
    uint64_t arr_n;
    const uint8_t *raw; /* scalar value bytes, or the first array element */
    hone_str str;       /* STRING value */
    hone_str *strs;     /* (arr_n) for arrays of strings, else NULL */
} gguf_kv;

typedef struct gguf_tensor {
    hone_str name;
    uint32_t n_dims;
    uint32_t type;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t nelem;
    uint64_t offset; /* relative to data_offset */
    uint64_t nbytes;
} gguf_tensor;

struct hone_gguf {
    char *path;
    hone_map map; /* owned only when opened from a path */
    const uint8_t *data;
    size_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
    /* open-addressing hash tables of indices (+1; 0 = empty), cap a power of two */
    uint32_t *kv_hash, *tensor_hash;
    uint64_t kv_cap, tensor_cap;
};

#endif
