/* dequant_dump.c: a helper the interop scripts run (tests/interop/test_dequant_vs_ggufpy.py,
 * test_quant_rmse.py, bench/quant_vs_llamacpp.py); not part of the CLI.
 *
 *   dequant_dump dump MODEL.gguf OUT.f32
 *       every tensor dequantized with hone_gguf_tensor_dequantize, as raw
 *       little-endian f32, one after the other in tensor order.
 *   dequant_dump quant TYPE IN.f32 OUT.q OUT.f32
 *       quantizes the raw f32 file to TYPE (a name: Q4_K, BF16, ...) with
 *       hone_quantize, writes the quantized bytes to OUT.q and their
 *       dequantization (hone_dequantize) to OUT.f32.
 *   dequant_dump dequant TYPE IN.q OUT.f32
 *       dequantizes raw TYPE blocks (hone_dequantize) to raw f32.
 * Exit status 0 on success, 1 with the library's error on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

static int fail(const char *what, const hone_err *err) {
    fprintf(stderr, "dequant_dump: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static int write_all(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "dequant_dump: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int cmd_dump(const char *model, const char *out) {
    hone_err err = {0};
    hone_gguf *g;
    if (hone_gguf_open(&g, model, &err)) return fail(model, &err);
    FILE *f = fopen(out, "wb");
    if (!f) {
        hone_gguf_close(g);
        fprintf(stderr, "dequant_dump: cannot write %s\n", out);
        return 1;
    }
    int rc = 0;
    for (int64_t t = 0; t < hone_gguf_n_tensors(g) && !rc; t++) {
        uint64_t n = hone_gguf_tensor_nelem(g, t);
        float *buf = malloc(n ? n * sizeof(float) : 1); /* (n) */
        if (!buf) rc = fail("out of memory", NULL);
        else if (hone_gguf_tensor_dequantize(g, t, buf, &err)) rc = fail("dequantize", &err);
        else if (fwrite(buf, sizeof(float), n, f) != n) rc = fail("short write", NULL);
        free(buf);
    }
    if (fclose(f) != 0 && !rc) rc = fail("close", NULL);
    hone_gguf_close(g);
    return rc;
}

static int type_by_name(const char *name) {
    for (int t = 0; t < HONE_DTYPE_COUNT; t++)
        if (hone_dtype_name(t) && !strcmp(hone_dtype_name(t), name)) return t;
    return -1;
}

static int cmd_quant(const char *tname, const char *in, const char *outq, const char *outf) {
    int type = type_by_name(tname);
    if (type < 0) {
        fprintf(stderr, "dequant_dump: unknown type %s\n", tname);
        return 1;
    }
    FILE *f = fopen(in, "rb");
    if (!f) {
        fprintf(stderr, "dequant_dump: cannot read %s\n", in);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t n = (uint64_t)size / sizeof(float);
    float *x = malloc(n * sizeof(float) + 1), *y = malloc(n * sizeof(float) + 1); /* (n) */
    uint64_t qbytes = hone_dtype_row_bytes(type, n);
    void *q = qbytes == UINT64_MAX ? NULL : malloc(qbytes + 1);
    int rc = 1;
    hone_err err = {0};
    if (!x || !y || !q) fprintf(stderr, "dequant_dump: %llu elements: out of memory or not a whole number of %s blocks\n", (unsigned long long)n, tname);
    else if (fread(x, sizeof(float), n, f) != n) fprintf(stderr, "dequant_dump: short read %s\n", in);
    else if (hone_quantize(type, x, q, n, &err)) fail("quantize", &err);
    else if (hone_dequantize(type, q, y, n, &err)) fail("dequantize", &err);
    else rc = write_all(outq, q, qbytes) || write_all(outf, y, n * sizeof(float));
    fclose(f);
    free(x);
    free(y);
    free(q);
    return rc;
}

static int cmd_dequant(const char *tname, const char *in, const char *outf) {
    int type = type_by_name(tname);
    uint32_t bb = type < 0 ? 0 : hone_dtype_block_bytes(type);
    FILE *f = bb ? fopen(in, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "dequant_dump: unknown type %s or cannot read %s\n", tname, in);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint64_t n = (uint64_t)size / bb * hone_dtype_block(type);
    uint8_t *q = malloc((size_t)size + 1);
    float *y = malloc(n * sizeof(float) + 1); /* (n) */
    int rc = 1;
    hone_err err = {0};
    if (!q || !y || size % bb) fprintf(stderr, "dequant_dump: %s: not whole %s blocks\n", in, tname);
    else if (fread(q, 1, (size_t)size, f) != (size_t)size) fprintf(stderr, "dequant_dump: short read %s\n", in);
    else if (hone_dequantize(type, q, y, n, &err)) fail("dequantize", &err);
    else rc = write_all(outf, y, n * sizeof(float));
    fclose(f);
    free(q);
    free(y);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "dequant")) return cmd_dequant(argv[2], argv[3], argv[4]);
    if (argc == 4 && !strcmp(argv[1], "dump")) return cmd_dump(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "quant")) return cmd_quant(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: dequant_dump dump MODEL.gguf OUT.f32\n"
                    "       dequant_dump quant TYPE IN.f32 OUT.q OUT.f32\n"
                    "       dequant_dump dequant TYPE IN.q OUT.f32\n");
    return 2;
}
