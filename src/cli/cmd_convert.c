/* cmd_convert.c: `hone convert`: a model (GGUF file, HF folder, ollama:NAME) re-written as a
 * GGUF file of another type, or as an HF folder (the library: hone/export.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone convert --model M --outfile F --outtype TYPE [--name NAME] [--license ID]\n"
            "                    [--dtype f32|f16|bf16]\n"
            "\n"
            "Writes the model M (GGUF file, HF folder or ollama:NAME[:TAG]) as:\n"
            "  --outtype f32|f16|bf16|q8_0|q4_0|q4_k_m|q6_k|keep|auto  a GGUF file F for llama.cpp /\n"
            "      Ollama (q4_k_m: llama.cpp's per-tensor choices: Q6_K for the LM head and for\n"
            "      attn_v / ffn_down in 'more bits' layers, Q5_0 / Q8_0 where rows are not a\n"
            "      multiple of 256; keep: every tensor's bytes as they are; auto: float tensors\n"
            "      kept, quantized ones f16)\n"
            "  --outtype hf  an HF folder F: config.json, model.safetensors (sharded at 5 GB with\n"
            "      an index), tokenizer.json, tokenizer_config.json, generation_config.json;\n"
            "      --dtype picks the matrices' type (default: the source's float type, else f16)\n"
            "  --name NAME   general.name      --license ID  general.license\n");
}

static void report(void *ctx, const hone_export_report *r) {
    int *verbose = ctx;
    if (*verbose)
        fprintf(stderr, "%-32s %-5s -> %s\n", r->t->gguf_name, hone_dtype_name(r->t->src_type),
                hone_dtype_name(r->t->dst_type));
}

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *outfile = NULL, *outtype = NULL, *dtype = NULL;
    hone_export_opts o = {0};
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            verbose = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("convert", "'%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--outfile") || !strcmp(a, "-o")) outfile = v;
        else if (!strcmp(a, "--outtype")) outtype = v;
        else if (!strcmp(a, "--dtype")) dtype = v;
        else if (!strcmp(a, "--name")) o.name = v;
        else if (!strcmp(a, "--license")) o.license = v;
        else return cli_usage_error("convert", "unknown flag '%s'", a);
    }
    if (!model || !outfile || !outtype) return cli_usage_error("convert", "--model, --outfile and --outtype are required");
    int hf = !strcmp(outtype, "hf");
    o.type = hf ? (dtype ? hone_export_type_parse(dtype) : HONE_EXPORT_AUTO) : hone_export_type_parse(outtype);
    if (o.type < 0) return cli_usage_error("convert", "unknown type '%s'", hf ? dtype : outtype);
    o.report = report;
    o.report_ctx = &verbose;
    hone_err err = {0};
    hone_model *m;
    if (hone_model_load(&m, model, NULL, &err)) return cli_fail_err(&err);
    int rc = hf ? hone_export_hf(m, outfile, &o, &err) : hone_export_gguf(m, outfile, &o, &err);
    hone_model_free(m);
    if (rc) return cli_fail_err(&err);
    fprintf(stderr, "%s -> %s (%s)\n", model, outfile, hf ? "HF folder" : hone_export_type_name(o.type));
    return 0;
}
