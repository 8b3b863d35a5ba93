/* sink.h: the hone_sink behind tensor fill callbacks (public type in hone/gguf_write.h).
 *
 * A sink wraps the hone_wfile being written and the byte budget of one tensor: a callback
 * may write its bytes in any number of pieces, but never more than the tensor's size; the
 * writer checks afterwards that exactly that many arrived. */
#ifndef HONE_IO_SINK_H
#define HONE_IO_SINK_H

#include "hone.h"
#include "util/fileio.h"

struct hone_sink {
    hone_wfile *f;
    const char *what; /* "tensor 'NAME'", for messages */
    uint64_t size;    /* bytes expected */
    uint64_t done;    /* bytes written so far */
};

/* Runs fill(ctx, sink) for one tensor of `size` bytes and checks the count. */
int sink_fill(hone_wfile *f, const char *what, uint64_t size, hone_tensor_fill_fn fill, void *ctx,
              hone_err *err);

#endif
