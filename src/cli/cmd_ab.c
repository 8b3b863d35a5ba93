/* cmd_ab.c: `hone ab SUBCOMMAND`: the A/B harness. For now only `show`, which prints, as a
 * JSON array of {role, content}, exactly the messages a cell of an experiment file would
 * send (the kernel signed into the prompt by the condition's signing mode, hone/sign.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void show_usage(FILE *f) {
    fprintf(f, "usage: hone ab show SPEC --probe ID --condition ID [--model ID]\n\n"
               "Prints the messages the cell would send, as a JSON array of {role, content}.\n"
               "--model defaults to the spec's first model.\n");
}

static int ab_show(int argc, char **argv) {
    const char *spec_path = NULL, *probe = NULL, *cond = NULL, *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            show_usage(stdout);
            return 0;
        }
        const char **dst = !strcmp(a, "--probe") ? &probe : !strcmp(a, "--condition") ? &cond
                         : !strcmp(a, "--model") ? &model : NULL;
        if (dst) {
            if (i + 1 >= argc) return cli_usage_error("ab show", "%s needs a value", a);
            *dst = argv[++i];
        } else if (a[0] == '-') {
            return cli_usage_error("ab show", "unknown flag '%s'", a);
        } else if (!spec_path) {
            spec_path = a;
        } else {
            return cli_usage_error("ab show", "unexpected argument '%s'", a);
        }
    }
    if (!spec_path || !probe || !cond) return cli_usage_error("ab show", "needs SPEC, --probe and --condition");
    hone_err err = {0};
    hone_ab_spec *s;
    if (hone_ab_spec_load(&s, spec_path, &err)) return cli_fail_err(&err);
    int rc = 1;
    int p = hone_ab_spec_find_probe(s, probe), c = hone_ab_spec_find_condition(s, cond);
    int m = model ? hone_ab_spec_find_model(s, model) : 0;
    if (p < 0) { cli_fail("%s: no probe with id '%s'", spec_path, probe); goto out; }
    if (c < 0) { cli_fail("%s: no condition with id '%s'", spec_path, cond); goto out; }
    if (m < 0) { cli_fail("%s: no model with id '%s'", spec_path, model); goto out; }
    const hone_ab_condition *cd = &s->conditions[c];
    hone_sign sg = {0};
    if (hone_sign_mode_parse(cd->mode, &sg.mode, &err)) { cli_fail_err(&err); goto out; }
    sg.kernel = cd->kernel >= 0 ? s->kernels[cd->kernel].text : NULL;
    sg.kernel_b = cd->kernel_b >= 0 ? s->kernels[cd->kernel_b].text : NULL;
    sg.reminder = cd->reminder;
    char *sys = NULL, *user = NULL;
    if (hone_sign_apply(&sg, NULL, s->probes[p].prompt, &sys, &user, &err)) { cli_fail_err(&err); goto out; }
    json_t *msgs = json_array();
    if (sys) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
    char *txt = json_dumps(msgs, JSON_INDENT(2));
    if (txt) {
        printf("%s\n", txt);
        rc = 0;
    } else {
        cli_fail("out of memory");
    }
    free(txt);
    json_decref(msgs);
    free(sys);
    free(user);
out:
    hone_ab_spec_free(s);
    return rc;
}

int cmd_ab(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: hone ab show SPEC --probe ID --condition ID [--model ID]\n"
                   "       hone ab run SPEC [--db FILE] [--concurrency N] [--only model=ID,...] [--dry-run] ...\n"
                   "       hone ab judge SPEC [--db FILE] [--concurrency N]\n"
                   "       hone ab report --db FILE --out DIR [--spec SPEC]\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "show")) return ab_show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run")) return cmd_ab_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "judge")) return cmd_ab_judge(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report")) return cmd_ab_report(argc - 1, argv + 1);
    return cli_usage_error("ab", "unknown subcommand '%s' (show, run, judge, report)", argv[1]);
}
