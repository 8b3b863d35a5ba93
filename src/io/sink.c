/* sink.c: byte-counting sink for streamed tensor data (see sink.h). */
#include "io/sink.h"

#include "util/err.h"

int hone_sink_write(hone_sink *s, const void *p, size_t n, hone_err *err) {
    if (!s || (n && !p)) return hone_err_set(err, HONE_EARG, "hone_sink_write: NULL argument");
    if (n > s->size - s->done)
        return hone_err_set(err, HONE_EARG, "%s: %s: fill wrote %llu bytes, more than its %llu",
                            s->f->path, s->what, (unsigned long long)(s->done + n),
                            (unsigned long long)s->size);
    int rc = hone_wfile_write(s->f, p, n, err);
    if (rc) return rc;
    s->done += n;
    return HONE_OK;
}

int sink_fill(hone_wfile *f, const char *what, uint64_t size, hone_tensor_fill_fn fill, void *ctx,
              hone_err *err) {
    hone_sink s = {f, what, size, 0};
    int rc = fill(ctx, &s, err);
    if (rc) return rc < 0 ? rc : hone_err_set(err, HONE_EARG, "%s: %s: fill returned %d", f->path, what, rc);
    if (s.done != size)
        return hone_err_set(err, HONE_EARG, "%s: %s: fill wrote %llu bytes, expected %llu", f->path,
                            what, (unsigned long long)s.done, (unsigned long long)size);
    return HONE_OK;
}
