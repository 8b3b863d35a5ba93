/* cmd_export_adapter.c: `hone export-adapter`: reads an MLX or PEFT adapter
 * folder and writes it in the other layout, or as a llama.cpp GGUF LoRA for the
 * base model given with --model (hone/export.h) (issue 7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone export-adapter --adapter-path DIR --format peft|mlx|gguf --out PATH\n"
            "                           [--model M] [--base-model NAME] [--scale S]\n"
            "\n"
            "Reads a LoRA adapter folder (mlx-lm's adapters.safetensors + adapter_config.json,\n"
            "or PEFT's adapter_model.safetensors + adapter_config.json; detected) and writes it\n"
            "to --out (created if missing; its parent must exist) in the asked layout:\n"
            "  peft  adapter_model.safetensors (lora_A (r, in), lora_B (out, r)) and\n"
            "        adapter_config.json (r, lora_alpha = scale * r, target_modules, ...)\n"
            "  mlx   adapters.safetensors (lora_a (in, r), lora_b (r, out)) and\n"
            "        adapter_config.json (fine_tune_type, num_layers, lora_parameters)\n"
            "  gguf  one GGUF file PATH for llama.cpp's --lora and Ollama's ADAPTER: general.type\n"
            "        adapter, adapter.lora.alpha = scale * r, blk.N.attn_q.weight.lora_a (ne {in, r})\n"
            "        and .lora_b (ne {r, out}); needs --model M (the base: its architecture, and\n"
            "        llama q/k rows permuted as its weights are)\n"
            "Tensors are written as F32; the numbers are copied exactly (transposes only).\n"
            "\n"
            "  --base-model NAME  PEFT base_model_name_or_path to record\n"
            "  --scale S          change the adapter's scale before writing\n");
}

int cmd_export_adapter(int argc, char **argv) {
    const char *in = NULL, *fmt = NULL, *out = NULL, *base = NULL, *model = NULL;
    float scale = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return cli_usage_error("export-adapter", "'%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--adapter-path")) in = v;
        else if (!strcmp(a, "--format")) fmt = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--base-model")) base = v;
        else if (!strcmp(a, "--model") || !strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--scale")) {
            char *end;
            scale = strtof(v, &end);
            if (*end || !(scale == scale) || scale == 0)
                return cli_usage_error("export-adapter", "--scale: '%s' is not a non-zero number", v);
        } else return cli_usage_error("export-adapter", "unknown flag '%s'", a);
    }
    if (!in || !fmt || !out) return cli_usage_error("export-adapter", "--adapter-path, --format and --out are required");
    if (!strcmp(fmt, "gguf")) {
        if (!model) return cli_usage_error("export-adapter", "--format gguf needs --model (the base model)");
        hone_err err = {0};
        hone_adapter *ad;
        hone_model *m;
        if (hone_adapter_load(&ad, in, NULL, &err)) return cli_fail_err(&err);
        if (hone_model_load(&m, model, NULL, &err)) {
            hone_adapter_free(ad);
            return cli_fail_err(&err);
        }
        int rc = hone_export_adapter_gguf(ad, m, scale, out, &err);
        if (!rc)
            printf("%s: %lld adapted projections, rank %u -> %s (GGUF LoRA for %s)\n", in,
                   (long long)hone_adapter_n(ad), hone_adapter_get_config(ad)->rank, out, model);
        hone_model_free(m);
        hone_adapter_free(ad);
        return rc ? cli_fail_err(&err) : 0;
    }
    if (strcmp(fmt, "peft") && strcmp(fmt, "mlx"))
        return cli_usage_error("export-adapter", "--format: '%s' is not peft, mlx or gguf", fmt);
    if (mkdir(out, 0777) && errno != EEXIST) return cli_fail("%s: cannot create: %s", out, strerror(errno));
    hone_err err = {0};
    hone_adapter *ad;
    int from;
    if (hone_adapter_load(&ad, in, &from, &err)) return cli_fail_err(&err);
    hone_adapter_config c = *hone_adapter_get_config(ad);
    if (scale != 0) hone_adapter_set_scale(ad, scale);
    if (base) {
        /* the config is copied in at create time: rebuild with the new name */
        hone_adapter *nd;
        snprintf(c.base_model, sizeof c.base_model, "%s", base);
        c.scale = hone_adapter_get_config(ad)->scale;
        c.keys = 0;
        int rc = hone_adapter_create(&nd, &c, &err);
        for (int64_t i = 0; !rc && i < hone_adapter_n(ad); i++) {
            hone_lora *l = hone_adapter_get(ad, i);
            rc = hone_adapter_add(nd, l->layer, l->proj, l->n_in, l->n_out, l->a, l->b, &err);
        }
        hone_adapter_free(ad);
        if (rc) return cli_fail_err(&err);
        ad = nd;
    }
    int rc = !strcmp(fmt, "peft") ? hone_adapter_save_peft(ad, out, &err) : hone_adapter_save_mlx(ad, out, &err);
    if (!rc)
        printf("%s: %lld adapted projections, rank %u, scale %g (%s) -> %s (%s)\n", in,
               (long long)hone_adapter_n(ad), hone_adapter_get_config(ad)->rank, hone_adapter_get_config(ad)->scale,
               from == HONE_ADAPTER_MLX ? "mlx" : "peft", out, fmt);
    hone_adapter_free(ad);
    return rc ? cli_fail_err(&err) : 0;
}
