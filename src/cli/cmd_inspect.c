/* cmd_inspect.c: `hone inspect PATH` (first slice: GGUF metadata and tensors). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_inspect(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        printf("usage: hone inspect PATH\n");
        return argc < 2 ? 2 : 0;
    }
    hone_err err = {0};
    hone_gguf *g;
    if (hone_gguf_open(&g, argv[1], &err)) return cli_fail_err(&err);
    printf("GGUF v%u, %lld keys, %lld tensors\n", hone_gguf_version(g), (long long)hone_gguf_n_kv(g),
           (long long)hone_gguf_n_tensors(g));
    for (int64_t i = 0; i < hone_gguf_n_kv(g); i++) {
        hone_str k = hone_gguf_kv_key(g, i);
        printf("  %.*s: %s\n", (int)k.len, k.ptr, hone_gguf_vtype_name(hone_gguf_kv_type(g, i)));
    }
    hone_gguf_close(g);
    return 0;
}
