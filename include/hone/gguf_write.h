/* hone/gguf_write.h: public API, GGUF writer: metadata with exact value types, tensors padded
 * to the alignment, atomic. Included by hone.h; see its conventions.
 *
 * A hone_gguf_writer is a builder. Metadata is added in the order it will be written, each
 * value with its exact GGUF type; the writer copies keys and values, so the caller's buffers
 * may be freed at once. Tensors are added in the order their infos and data will be written;
 * their bytes come either from a pointer (which must stay valid until the write) or from a
 * callback that streams them through a hone_sink at write time, so a model far larger than
 * memory can be exported one tensor (or one row block) at a time.
 *
 * The file written is GGUF v3, little-endian:
 *   header, metadata in insertion order, tensor infos in insertion order with offsets that are
 *   the running sum of the tensor sizes each padded to the alignment, zero padding to the
 *   alignment, then each tensor's bytes followed by zero padding to the alignment.
 * This is the layout llama.cpp's gguf_write and gguf-py's GGUFWriter produce, so a file read
 * with hone_gguf_open and copied with hone_gguf_writer_copy() comes back byte for byte.
 *
 * Errors: a duplicate key or tensor name, an empty key, a tensor name over 63 bytes, invalid
 * UTF-8, an unknown value or tensor type, a row length that is not a multiple of the type's
 * block, a general.alignment that is not a UINT32 power of two: HONE_EARG with one line
 * naming the key or tensor.
 */
#ifndef HONE_GGUF_WRITE_H
#define HONE_GGUF_WRITE_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A place to stream bytes to (the file being written). Used by tensor callbacks here and in
 * the safetensors writer. */
typedef struct hone_sink hone_sink;
int hone_sink_write(hone_sink *s, const void *p, size_t n, hone_err *err);

/* Produces the bytes of one tensor: must call hone_sink_write with exactly the tensor's size
 * in total (any number of calls), and return HONE_OK or a negative code with err filled. */
typedef int (*hone_tensor_fill_fn)(void *ctx, hone_sink *sink, hone_err *err);

typedef struct hone_gguf_writer hone_gguf_writer;

int hone_gguf_writer_init(hone_gguf_writer **out, hone_err *err);
void hone_gguf_writer_free(hone_gguf_writer *w);

/* Data alignment (a power of two, default 32). When it differs from 32 (or a
 * general.alignment key exists already) the key general.alignment is set, as UINT32: updated
 * in place if present, else appended to the metadata. Adding general.alignment with
 * hone_gguf_writer_add_u32 has the same effect; with any other type it is an error. */
int hone_gguf_writer_set_alignment(hone_gguf_writer *w, uint32_t alignment, hone_err *err);
uint32_t hone_gguf_writer_alignment(const hone_gguf_writer *w);

/* Scalars, one function per GGUF value type. */
int hone_gguf_writer_add_u8(hone_gguf_writer *w, const char *key, uint8_t v, hone_err *err);
int hone_gguf_writer_add_i8(hone_gguf_writer *w, const char *key, int8_t v, hone_err *err);
int hone_gguf_writer_add_u16(hone_gguf_writer *w, const char *key, uint16_t v, hone_err *err);
int hone_gguf_writer_add_i16(hone_gguf_writer *w, const char *key, int16_t v, hone_err *err);
int hone_gguf_writer_add_u32(hone_gguf_writer *w, const char *key, uint32_t v, hone_err *err);
int hone_gguf_writer_add_i32(hone_gguf_writer *w, const char *key, int32_t v, hone_err *err);
int hone_gguf_writer_add_u64(hone_gguf_writer *w, const char *key, uint64_t v, hone_err *err);
int hone_gguf_writer_add_i64(hone_gguf_writer *w, const char *key, int64_t v, hone_err *err);
int hone_gguf_writer_add_f32(hone_gguf_writer *w, const char *key, float v, hone_err *err);
int hone_gguf_writer_add_f64(hone_gguf_writer *w, const char *key, double v, hone_err *err);
int hone_gguf_writer_add_bool(hone_gguf_writer *w, const char *key, int v, hone_err *err);
/* NUL-terminated, or n bytes (may hold NULs); must be valid UTF-8. */
int hone_gguf_writer_add_str(hone_gguf_writer *w, const char *key, const char *s, hone_err *err);
int hone_gguf_writer_add_strn(hone_gguf_writer *w, const char *key, const char *s, size_t n,
                              hone_err *err);
/* Array of n numbers (or bools) of element type et, given as n packed values in host
 * (little-endian) order, e.g. a float[] for HONE_GGUF_FLOAT32. */
int hone_gguf_writer_add_arr(hone_gguf_writer *w, const char *key, hone_gguf_vtype et,
                             const void *data, uint64_t n, hone_err *err);
/* Arrays of strings: NUL-terminated C strings, or hone_str (length-delimited). */
int hone_gguf_writer_add_arr_str(hone_gguf_writer *w, const char *key, const char *const *s,
                                 uint64_t n, hone_err *err);
int hone_gguf_writer_add_arr_hstr(hone_gguf_writer *w, const char *key, const hone_str *s,
                                  uint64_t n, hone_err *err);
/* Removes a key added earlier (to replace a copied value): HONE_ENOTFOUND if absent. */
int hone_gguf_writer_remove_key(hone_gguf_writer *w, const char *key, hone_err *err);
int64_t hone_gguf_writer_n_kv(const hone_gguf_writer *w);

/* Tensors. ne[0] is the row length (fastest-moving), as in ggml; only ne[0..n_dims) are read
 * (n_dims 1 to 4). `data` holds the tensor's bytes (hone_dtype_row_bytes(type, ne[0]) times
 * the row count) and must stay valid until hone_gguf_writer_write returns. */
int hone_gguf_writer_add_tensor(hone_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                                const uint64_t *ne, const void *data, hone_err *err);
/* Same, the bytes produced at write time by fill(ctx, sink, err). */
int hone_gguf_writer_add_tensor_fn(hone_gguf_writer *w, const char *name, int type,
                                   uint32_t n_dims, const uint64_t *ne, hone_tensor_fill_fn fill,
                                   void *ctx, hone_err *err);
int64_t hone_gguf_writer_n_tensors(const hone_gguf_writer *w);

/* Copies metadata from an open reader: one pair (index i), or all of them. general.alignment
 * is copied as a value and also sets the writer's alignment. */
int hone_gguf_writer_copy_kv(hone_gguf_writer *w, const hone_gguf *g, int64_t i, hone_err *err);
enum { HONE_GGUF_COPY_KV = 1, HONE_GGUF_COPY_TENSORS = 2 };
/* flags: HONE_GGUF_COPY_KV and/or HONE_GGUF_COPY_TENSORS. Copied tensors point into g's
 * mapping: keep g open until the write. */
int hone_gguf_writer_copy(hone_gguf_writer *w, const hone_gguf *g, int flags, hone_err *err);

/* Size in bytes the file will have. */
uint64_t hone_gguf_writer_file_size(const hone_gguf_writer *w);

/* Writes the file atomically (PATH.tmp.PID, fsync, rename). The writer stays usable. */
int hone_gguf_writer_write(hone_gguf_writer *w, const char *path, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
