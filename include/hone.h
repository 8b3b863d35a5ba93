/* hone.h: the public API of libhone. The CLI uses only this header.
 *
 * Conventions: functions that can fail return int (HONE_OK == 0, or a negative
 * HONE_E* code) and fill a caller-owned hone_err with one line naming the file,
 * the byte offset or JSON path, and what was expected. Types are opaque;
 * `*_open`/`*_close` and `*_init`/`*_free` come in pairs. Strings returned as
 * hone_str point into the mapped file and are not NUL-terminated.
 */
#ifndef HONE_H
#define HONE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

enum {
    HONE_OK = 0,
    HONE_EIO = -1,          /* open/read/write/rename failed */
    HONE_EFORMAT = -2,      /* input is malformed */
    HONE_ENOMEM = -3,       /* allocation failed */
    HONE_EUNSUPPORTED = -4, /* valid input we do not handle (type, architecture) */
    HONE_EARG = -5,         /* caller passed something invalid */
    HONE_ENOTFOUND = -6,    /* key, tensor, file or model not found */
};

typedef struct hone_err {
    int code;
    char msg[1024];
} hone_err;

const char *hone_strerror(int code);

typedef struct hone_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} hone_str;

/* ---- tensor element types (ggml numbering, as stored in GGUF) ----------- */

typedef enum hone_dtype {
    HONE_F32 = 0, HONE_F16 = 1, HONE_Q4_0 = 2, HONE_Q4_1 = 3,
    HONE_Q5_0 = 6, HONE_Q5_1 = 7, HONE_Q8_0 = 8, HONE_Q8_1 = 9,
    HONE_Q2_K = 10, HONE_Q3_K = 11, HONE_Q4_K = 12, HONE_Q5_K = 13, HONE_Q6_K = 14, HONE_Q8_K = 15,
    HONE_IQ2_XXS = 16, HONE_IQ2_XS = 17, HONE_IQ3_XXS = 18, HONE_IQ1_S = 19, HONE_IQ4_NL = 20,
    HONE_IQ3_S = 21, HONE_IQ2_S = 22, HONE_IQ4_XS = 23,
    HONE_I8 = 24, HONE_I16 = 25, HONE_I32 = 26, HONE_I64 = 27, HONE_F64 = 28,
    HONE_IQ1_M = 29, HONE_BF16 = 30, HONE_TQ1_0 = 34, HONE_TQ2_0 = 35, HONE_MXFP4 = 39,
    HONE_DTYPE_COUNT = 40,
} hone_dtype;

/* Name ("Q4_K"), or NULL for an id ggml does not define. */
const char *hone_dtype_name(int type);
/* Elements per block and bytes per block; 0 for an undefined id. */
uint32_t hone_dtype_block(int type);
uint32_t hone_dtype_block_bytes(int type);
/* Bytes of n elements (n a multiple of the block size), or UINT64_MAX on overflow. */
uint64_t hone_dtype_row_bytes(int type, uint64_t n);

/* ---- CPU features (detected at run time; kernels dispatch on them) ---- */

enum {
    HONE_CPU_AVX2 = 1u << 0, HONE_CPU_FMA = 1u << 1, HONE_CPU_F16C = 1u << 2,
    HONE_CPU_AVX512F = 1u << 3, HONE_CPU_AVX512BW = 1u << 4, HONE_CPU_AVX512VL = 1u << 5,
    HONE_CPU_AVX512VNNI = 1u << 6, HONE_CPU_AVX512BF16 = 1u << 7, HONE_CPU_AVXVNNI = 1u << 8,
};
unsigned hone_cpu_features(void);
/* Space-separated names as Linux's /proc/cpuinfo spells them. */
int hone_cpu_features_str(unsigned features, char *buf, size_t n);

/* ---- GGUF files ---------------------------------------------------------- */

typedef enum hone_gguf_vtype {
    HONE_GGUF_UINT8 = 0, HONE_GGUF_INT8 = 1, HONE_GGUF_UINT16 = 2, HONE_GGUF_INT16 = 3,
    HONE_GGUF_UINT32 = 4, HONE_GGUF_INT32 = 5, HONE_GGUF_FLOAT32 = 6, HONE_GGUF_BOOL = 7,
    HONE_GGUF_STRING = 8, HONE_GGUF_ARRAY = 9, HONE_GGUF_UINT64 = 10, HONE_GGUF_INT64 = 11,
    HONE_GGUF_FLOAT64 = 12,
} hone_gguf_vtype;

const char *hone_gguf_vtype_name(int vtype);

typedef struct hone_gguf hone_gguf;

/* Maps the file and parses header, metadata and tensor infos; reads no tensor
 * data. Every count, length and offset is checked against the file. */
int hone_gguf_open(hone_gguf **out, const char *path, hone_err *err);
/* Same over a caller-owned buffer (fuzzing, tests); the buffer must outlive g. */
int hone_gguf_open_mem(hone_gguf **out, const void *data, size_t size, const char *name,
                       hone_err *err);
void hone_gguf_close(hone_gguf *g);

uint32_t hone_gguf_version(const hone_gguf *g);
uint64_t hone_gguf_alignment(const hone_gguf *g);
uint64_t hone_gguf_data_offset(const hone_gguf *g); /* file offset of the tensor data */
uint64_t hone_gguf_file_size(const hone_gguf *g);
const char *hone_gguf_path(const hone_gguf *g);

/* Metadata, in file order. Index-based; -1 when a key is absent. */
int64_t hone_gguf_n_kv(const hone_gguf *g);
int64_t hone_gguf_find_key(const hone_gguf *g, const char *key);
hone_str hone_gguf_kv_key(const hone_gguf *g, int64_t i);
hone_gguf_vtype hone_gguf_kv_type(const hone_gguf *g, int64_t i);
/* Scalars (type must match the accessor's family; conversions are exact or refused). */
uint64_t hone_gguf_kv_u64(const hone_gguf *g, int64_t i);  /* any unsigned int, bool */
int64_t hone_gguf_kv_i64(const hone_gguf *g, int64_t i);   /* any integer, bool */
double hone_gguf_kv_f64(const hone_gguf *g, int64_t i);    /* any number */
hone_str hone_gguf_kv_str(const hone_gguf *g, int64_t i);  /* STRING */
/* Arrays: element type, count, and element access. */
hone_gguf_vtype hone_gguf_arr_type(const hone_gguf *g, int64_t i);
uint64_t hone_gguf_arr_n(const hone_gguf *g, int64_t i);
const void *hone_gguf_arr_data(const hone_gguf *g, int64_t i); /* numeric: raw LE bytes, unaligned */
hone_str hone_gguf_arr_str(const hone_gguf *g, int64_t i, uint64_t j);
double hone_gguf_arr_f64(const hone_gguf *g, int64_t i, uint64_t j); /* numeric arrays */

/* Convenience lookups with defaults (wrong type counts as absent). */
int hone_gguf_get_u32(const hone_gguf *g, const char *key, uint32_t *out);
int hone_gguf_get_f32(const hone_gguf *g, const char *key, float *out);
int hone_gguf_get_str(const hone_gguf *g, const char *key, hone_str *out);

/* Tensors, in file order. */
int64_t hone_gguf_n_tensors(const hone_gguf *g);
int64_t hone_gguf_find_tensor(const hone_gguf *g, const char *name);
hone_str hone_gguf_tensor_name(const hone_gguf *g, int64_t t);
int hone_gguf_tensor_type(const hone_gguf *g, int64_t t);
uint32_t hone_gguf_tensor_ndim(const hone_gguf *g, int64_t t);
/* ne[0] is the fastest-moving (row length), as in ggml. Unused dims are 1. */
void hone_gguf_tensor_shape(const hone_gguf *g, int64_t t, uint64_t ne[4]);
uint64_t hone_gguf_tensor_nelem(const hone_gguf *g, int64_t t);
uint64_t hone_gguf_tensor_offset(const hone_gguf *g, int64_t t); /* relative to data offset */
uint64_t hone_gguf_tensor_nbytes(const hone_gguf *g, int64_t t);
const void *hone_gguf_tensor_data(const hone_gguf *g, int64_t t); /* into the mapping */

#ifdef __cplusplus
}
#endif

/* One header per concern, all public. */
#include "hone/quant.h"
#include "hone/gguf_write.h"
#include "hone/safetensors.h"
#include "hone/safetensors_write.h"
#include "hone/model.h"
#include "hone/tokenizer.h"
#include "hone/engine.h"
#include "hone/sampler.h"
#include "hone/sign.h"
#include "hone/generate.h"
#include "hone/chat.h"
#include "hone/adapter.h"
#include "hone/ab.h"
#include "hone/train.h"
#include "hone/trainloop.h"
#include "hone/llm.h"
#include "hone/dataset.h"
#include "hone/serve.h"
#include "hone/export.h"

#endif
