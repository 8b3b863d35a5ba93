/* st_write_tool.c: drives the safetensors writer for tests/interop/test_safetensors_write.py.
 *   st_write_tool MANIFEST OUT                      one file
 *   st_write_tool MANIFEST DIR MAX_BYTES PREFIX     shards (+ index) in DIR
 * MANIFEST lines: `meta KEY VALUE` (no spaces in either), or
 * `tensor NAME DTYPE NDIM D0 .. DN-1 RAWFILE` with DTYPE one of F32 F16 BF16 F64 I8 I16 I32
 * I64 and RAWFILE holding the row-major bytes. Tensors whose name starts with "stream." are
 * added through a fill callback that writes them in 7-byte pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

static const struct { const char *name; int id; } DT[] = {
    {"F32", HONE_F32}, {"F16", HONE_F16}, {"BF16", HONE_BF16}, {"F64", HONE_F64},
    {"I8", HONE_I8},   {"I16", HONE_I16}, {"I32", HONE_I32},   {"I64", HONE_I64},
};

typedef struct blob { unsigned char *p; size_t n; } blob;

static int fill7(void *ctx, hone_sink *s, hone_err *err) {
    const blob *b = ctx;
    for (size_t at = 0; at < b->n; at += 7) {
        int rc = hone_sink_write(s, b->p + at, b->n - at < 7 ? b->n - at : 7, err);
        if (rc) return rc;
    }
    return HONE_OK;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: st_write_tool MANIFEST OUT | MANIFEST DIR MAX_BYTES PREFIX\n");
        return 2;
    }
    FILE *m = fopen(argv[1], "r");
    if (!m) { perror(argv[1]); return 1; }
    hone_err err = {0};
    hone_st_writer *w;
    if (hone_st_writer_init(&w, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    blob *blobs = calloc(4096, sizeof *blobs);
    int nb = 0, rc = 0;
    char kind[16], a[1024], b[1024];
    while (!rc && fscanf(m, "%15s %1023s", kind, a) == 2) {
        if (strcmp(kind, "meta") == 0) {
            if (fscanf(m, "%1023s", b) != 1) { rc = 2; break; }
            rc = hone_st_writer_add_meta(w, a, b, &err);
            continue;
        }
        unsigned nd;
        uint64_t shape[HONE_ST_MAX_DIMS];
        if (fscanf(m, "%1023s %u", b, &nd) != 2 || nd > HONE_ST_MAX_DIMS || nb == 4096) { rc = 2; break; }
        for (unsigned d = 0; d < nd; d++)
            if (fscanf(m, "%lu", &shape[d]) != 1) rc = 2;
        char raw[1024];
        if (rc || fscanf(m, "%1023s", raw) != 1) { rc = 2; break; }
        int dt = -1;
        for (size_t k = 0; k < sizeof DT / sizeof DT[0]; k++)
            if (strcmp(DT[k].name, b) == 0) dt = DT[k].id;
        FILE *f = fopen(raw, "rb");
        if (!f || dt < 0) { fprintf(stderr, "bad tensor line for %s\n", a); rc = 2; if (f) fclose(f); break; }
        fseek(f, 0, SEEK_END);
        blob *bl = &blobs[nb++];
        bl->n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        bl->p = malloc(bl->n ? bl->n : 1);
        if (fread(bl->p, 1, bl->n, f) != bl->n) rc = 2;
        fclose(f);
        if (rc) break;
        if (strncmp(a, "stream.", 7) == 0)
            rc = hone_st_writer_add_tensor_fn(w, a, dt, nd, shape, fill7, bl, &err);
        else
            rc = hone_st_writer_add_tensor(w, a, dt, nd, shape, bl->p, &err);
    }
    fclose(m);
    int ns = 1;
    if (!rc) {
        if (argc == 3) rc = hone_st_writer_write(w, argv[2], &err);
        else rc = hone_st_writer_write_sharded(w, argv[2], argv[4], strtoull(argv[3], NULL, 10), &ns, &err);
    }
    if (rc) fprintf(stderr, "st_write_tool: %s\n", rc == 2 ? "bad manifest" : err.msg);
    else printf("%d\n", ns);
    hone_st_writer_free(w);
    for (int i = 0; i < nb; i++) free(blobs[i].p);
    free(blobs);
    return rc ? 1 : 0;
}
