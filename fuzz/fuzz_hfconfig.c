/* fuzz_hfconfig.c: libFuzzer target for config.json -> model description
 * (src/io/hfconfig.c, src/model/desc.c).
 *
 * A refused input must come back as EFORMAT or EUNSUPPORTED with a one-line
 * message naming the file; an accepted one must describe a model the engine
 * can size: layers within the table, heads dividing evenly, non-zero dims
 * within hfconfig.c's limits (heads x head_dim <= 2^20, hidden x vocab and
 * hidden x ffn <= 2^36 elements), an even head size, finite positive eps and
 * rope base, sliding flags only with a window. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    hone_model_desc d;
    hone_err err = {0};
    int rc = hone_model_desc_from_hf_json(&d, buf, size, "<fuzz>", &err);
    free(buf);
    if (rc) {
        if ((rc != HONE_EFORMAT && rc != HONE_EUNSUPPORTED) || err.code != rc || strchr(err.msg, '\n') ||
            !strstr(err.msg, "<fuzz>")) {
            fprintf(stderr, "bad failure (rc %d, code %d): '%s'\n", rc, err.code, err.msg);
            abort();
        }
        return 0;
    }
    if (!d.n_layers || d.n_layers > HONE_MODEL_MAX_LAYERS || !d.hidden || !d.n_heads || !d.n_kv_heads ||
        d.n_heads % d.n_kv_heads || !d.head_dim || !d.vocab || !(d.rms_eps > 0) || !(d.rope_theta > 0))
        abort();
    if ((uint64_t)d.n_heads * d.head_dim > (1u << 20) || (uint64_t)d.hidden * d.vocab > (1ull << 36) ||
        (uint64_t)d.hidden * d.ffn_hidden > (1ull << 36) || d.head_dim % 2 || !(d.rms_eps <= 1) ||
        !(d.rope_theta <= 1e12f) || (d.rope_scaling != HONE_ROPE_SCALING_NONE && !(d.rope_factor > 0)))
        abort();
    for (uint32_t i = 0; i < d.n_layers; i++)
        if (d.layer_sliding[i] && !d.sliding_window) abort();
    return 0;
}
