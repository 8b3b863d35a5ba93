/* cmd_fuse.c: `hone fuse`: a LoRA adapter merged into its base model (W += scale * B A in
 * f32), written as an HF folder (mlx-lm's --save-path) and optionally as GGUF
 * (--export-gguf), with an Ollama Modelfile (--ollama NAME). mlx-lm's flag names.
 *
 * Re-quantizing (--gguf-type q8_0 / q4_0 / q4_k_m / q6_k): for every adapted tensor hone
 * prints how much of the adapter's change survives the quantization: the ratio
 * ||Q(W + dW) - Q(W)|| / ||dW|| (above 1 when the difference is mostly re-quantization
 * noise) and the share kept along dW, <Q(W + dW) - Q(W), dW> / ||dW||^2; it warns when most
 * tensors keep less than half of the change along dW. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone fuse --model M --adapter-path DIR [--save-path OUT] [--export-gguf]\n"
            "                 [--gguf-path F] [--gguf-type TYPE] [--dequantize] [--no-hf]\n"
            "                 [--scale S] [--name NAME] [--license ID] [--ollama NAME]\n"
            "\n"
            "Merges the LoRA adapter in DIR (mlx-lm or PEFT layout) into the model M (GGUF file,\n"
            "HF folder, ollama:NAME) in f32: W += scale * B A. A quantized base is dequantized.\n"
            "  --save-path OUT    HF folder for the fused model (default fused_model); its\n"
            "                     matrices are the base's float type, else f16\n"
            "  --no-hf            do not write the HF folder (GGUF only)\n"
            "  --export-gguf      also write GGUF: --gguf-path (default ggml-model-TYPE.gguf,\n"
            "                     relative to --save-path unless absolute or --no-hf)\n"
            "  --gguf-type TYPE   f32|f16|bf16|q8_0|q4_0|q4_k_m|q6_k (default f16). When\n"
            "                     re-quantizing, each adapted tensor's surviving share of the\n"
            "                     change ||Q(W+dW) - Q(W)|| / ||dW|| is printed\n"
            "  --dequantize       accepted for mlx-lm compatibility (hone always dequantizes)\n"
            "  --scale S          the adapter's scale (default: its own)\n"
            "  --ollama NAME      write a Modelfile beside the GGUF (FROM, TEMPLATE, PARAMETER\n"
            "                     stop) and print the `ollama create` command\n");
}

typedef struct fuse_stats {
    int quantized;
    int n_mod, n_lost;
    double worst;
} fuse_stats;

static void report(void *ctx, const hone_export_report *r) {
    fuse_stats *s = ctx;
    if (!r->modified) return;
    s->n_mod++;
    if (r->survival >= 0 && s->quantized) {
        if (r->aligned < 0.5) s->n_lost++;
        if (r->aligned < s->worst) s->worst = r->aligned;
        fprintf(stderr, "  %-28s %-5s |dW| %-9.4g |Q(W+dW)-Q(W)|/|dW| %6.3f, kept along dW %5.1f %%%s\n",
                r->t->gguf_name, hone_dtype_name(r->t->dst_type), r->delta_norm, r->survival, 100 * r->aligned,
                r->aligned < 0.5 ? "  LOST" : "");
    }
}

int cmd_fuse(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *save = "fused_model", *gguf_path = NULL, *gtype = "f16";
    const char *ollama = NULL;
    int export_gguf = 0, no_hf = 0;
    hone_export_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--export-gguf")) { export_gguf = 1; continue; }
        if (!strcmp(a, "--dequantize")) continue;
        if (!strcmp(a, "--no-hf")) { no_hf = 1; continue; }
        if (i + 1 >= argc) return cli_usage_error("fuse", "'%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--adapter-path")) adapter = v;
        else if (!strcmp(a, "--save-path")) save = v;
        else if (!strcmp(a, "--gguf-path")) gguf_path = v, export_gguf = 1;
        else if (!strcmp(a, "--gguf-type")) gtype = v, export_gguf = 1;
        else if (!strcmp(a, "--license")) o.license = v;
        else if (!strcmp(a, "--name")) o.name = v;
        else if (!strcmp(a, "--ollama")) ollama = v, export_gguf = 1;
        else if (!strcmp(a, "--scale")) {
            char *end;
            o.adapter_scale = strtof(v, &end);
            if (*end || o.adapter_scale == 0) return cli_usage_error("fuse", "--scale: '%s' is not a non-zero number", v);
        } else return cli_usage_error("fuse", "unknown flag '%s'", a);
    }
    if (!model || !adapter) return cli_usage_error("fuse", "--model and --adapter-path are required");
    int gt = hone_export_type_parse(gtype);
    if (gt < 0 || gt == HONE_EXPORT_KEEP) return cli_usage_error("fuse", "--gguf-type: unknown type '%s'", gtype);
    if (no_hf && !export_gguf) return cli_usage_error("fuse", "--no-hf needs --export-gguf");
    char gpath[4200];
    char defname[64];
    snprintf(defname, sizeof defname, "ggml-model-%s.gguf", gtype);
    const char *gname = gguf_path ? gguf_path : defname;
    if (gname[0] == '/' || no_hf) snprintf(gpath, sizeof gpath, "%s", gname);
    else snprintf(gpath, sizeof gpath, "%s/%s", save, gname);

    hone_err err = {0};
    hone_model *m = NULL;
    hone_adapter *ad = NULL;
    if (hone_model_load(&m, model, NULL, &err) || hone_adapter_load(&ad, adapter, NULL, &err)) {
        hone_model_free(m);
        return cli_fail_err(&err);
    }
    o.adapter = ad;
    fuse_stats st = {.worst = 1e30};
    o.report = report;
    o.report_ctx = &st;
    int rc = 0;
    const hone_adapter_config *c = hone_adapter_get_config(ad);
    fprintf(stderr, "fuse: %s + %s (%lld projections, rank %u, scale %g)\n", model, adapter,
            (long long)hone_adapter_n(ad), c->rank, (double)(o.adapter_scale != 0 ? o.adapter_scale : c->scale));
    if (!no_hf) {
        if (hone_export_hf(m, save, &o, &err)) {
            rc = cli_fail_err(&err);
            goto done;
        }
        fprintf(stderr, "fuse: HF folder %s (%d tensors merged)\n", save, st.n_mod);
    }
    if (export_gguf) {
        st = (fuse_stats){.worst = 1e30};
        st.quantized = gt == HONE_EXPORT_Q8_0 || gt == HONE_EXPORT_Q4_0 || gt == HONE_EXPORT_Q4_K_M || gt == HONE_EXPORT_Q6_K;
        o.type = gt;
        if (hone_export_gguf(m, gpath, &o, &err)) {
            rc = cli_fail_err(&err);
            goto done;
        }
        fprintf(stderr, "fuse: GGUF %s (%s, %d tensors merged)\n", gpath, gtype, st.n_mod);
        if (st.quantized && st.n_mod)
            fprintf(stderr, "fuse: adapter change kept along dW in %s: worst tensor %.1f %%, %d of %d tensors below 50 %%\n",
                    gtype, 100 * st.worst, st.n_lost, st.n_mod);
        if (st.quantized && st.n_lost * 2 > st.n_mod)
            fprintf(stderr, "hone: warning: %s quantization erases most of the adapter's change in %d of %d tensors; "
                            "use --gguf-type f16, bf16 or q8_0\n", gtype, st.n_lost, st.n_mod);
        if (ollama) {
            char mf[4300];
            const char *sl = strrchr(gpath, '/');
            snprintf(mf, sizeof mf, "%.*sModelfile", sl ? (int)(sl - gpath + 1) : 0, gpath);
            if (hone_export_modelfile(m, sl ? sl + 1 : gpath, mf, &err)) {
                rc = cli_fail_err(&err);
                goto done;
            }
            fprintf(stderr, "fuse: Ollama Modelfile %s\n", mf);
            printf("ollama create %s -f %s\n", ollama, mf);
        }
    }
done:
    hone_adapter_free(ad);
    hone_model_free(m);
    return rc;
}
