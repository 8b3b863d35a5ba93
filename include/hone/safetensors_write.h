/* hone/safetensors_write.h: public API, safetensors writer (one file, or shards with
 * model.safetensors.index.json). Included by hone.h; see its conventions.
 *
 * File layout (as the reference implementation, PyPI `safetensors` 0.8, writes it):
 *   u64 header length N, N bytes of compact JSON padded with spaces so that N is a multiple
 *   of 8, then the tensor bytes back to back. The JSON holds "__metadata__" (a string map,
 *   only when metadata was added) first, then one entry per tensor
 *   {"dtype":"F32","shape":[...],"data_offsets":[begin,end]} (offsets relative to the end of
 *   the header). Tensors are ordered as the reference orders them: by dtype, wider first
 *   (F64, F32, I32, BF16, F16, I16, I8: the order of its Dtype enum, descending), then by
 *   name (bytewise). Wider types first means every tensor starts at a multiple of its element
 *   size, so readers can map them in place. For the same tensors and at most one metadata
 *   entry, the file is byte-identical to safetensors.serialize_file's.
 *
 * Shapes are row-major, outermost first, as safetensors and PyTorch expect. A ggml / GGUF
 * tensor with ne[0..n) (ne[0] the fastest-moving) has the same bytes under the shape
 * [ne[n-1], ..., ne[1], ne[0]]: hone_st_shape_from_ne() does that reversal. E.g. a linear
 * layer weight with ggml ne = {in, out} is safetensors/PyTorch shape [out, in].
 *
 * dtypes are hone_dtype ids: HONE_F32, HONE_F16, HONE_BF16, HONE_F64, HONE_I8, HONE_I16,
 * HONE_I32, HONE_I64. (U8, BOOL, unsigned and FP8 types are not offered.)
 */
#ifndef HONE_SAFETENSORS_WRITE_H
#define HONE_SAFETENSORS_WRITE_H

#include "hone.h"
#include "hone/gguf_write.h" /* hone_sink, hone_tensor_fill_fn */

#ifdef __cplusplus
extern "C" {
#endif

#define HONE_ST_MAX_DIMS 8

typedef struct hone_st_writer hone_st_writer;

int hone_st_writer_init(hone_st_writer **out, hone_err *err);
void hone_st_writer_free(hone_st_writer *w);

/* Adds one "__metadata__" entry (both strings copied, valid UTF-8, keys unique). */
int hone_st_writer_add_meta(hone_st_writer *w, const char *key, const char *value, hone_err *err);

/* Adds a tensor: name (non-empty UTF-8, unique, not "__metadata__"), dtype (see above),
 * ndim 0 to HONE_ST_MAX_DIMS, shape[ndim] outermost first. `data` holds the row-major bytes
 * and must stay valid until the write returns. */
int hone_st_writer_add_tensor(hone_st_writer *w, const char *name, int dtype, uint32_t ndim,
                              const uint64_t *shape, const void *data, hone_err *err);
/* Same, the bytes produced at write time by fill(ctx, sink, err) (see hone/gguf_write.h). */
int hone_st_writer_add_tensor_fn(hone_st_writer *w, const char *name, int dtype, uint32_t ndim,
                                 const uint64_t *shape, hone_tensor_fill_fn fill, void *ctx,
                                 hone_err *err);
int64_t hone_st_writer_n_tensors(const hone_st_writer *w);

/* Reverses a ggml ne[0..n_dims) into a safetensors shape[0..n_dims). */
void hone_st_shape_from_ne(uint32_t n_dims, const uint64_t *ne, uint64_t *shape);

/* "F32", "BF16", ... for the dtypes above; NULL for others. */
const char *hone_st_dtype_name(int dtype);

/* Writes every tensor to one file, atomically. */
int hone_st_writer_write(hone_st_writer *w, const char *path, hone_err *err);

/* Writes the tensors to DIR as shards of at most max_shard_bytes of tensor data each, the way
 * Hugging Face's save_pretrained splits them: tensors in insertion order fill a shard until
 * the next would overflow it; a tensor larger than the limit gets a shard of its own. With
 * more than one shard the files are PREFIX-00001-of-0000N.safetensors and
 * PREFIX.safetensors.index.json ({"metadata":{"total_size":BYTES},"weight_map":{name:file}},
 * keys sorted, two-space indent); with one shard, just PREFIX.safetensors (as HF does).
 * prefix NULL means "model". Every shard carries the metadata. Each file is written
 * atomically, the index last. *n_shards (may be NULL) receives the shard count. */
int hone_st_writer_write_sharded(hone_st_writer *w, const char *dir, const char *prefix,
                                 uint64_t max_shard_bytes, int *n_shards, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
