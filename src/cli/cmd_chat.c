/* cmd_chat.c: `hone chat`: an interactive conversation. Each turn re-renders the
 * whole conversation with the chat template, and the generation loop re-evaluates
 * only what changed since the tokens the session already holds (common prefix), so
 * a turn costs its new tokens. User messages are kept unsigned in the history and
 * signed (hone/sign.h) each time the conversation is rendered, so /kernel and
 * /system apply to the whole conversation from the next turn on.
 * Input: libedit's readline (line editing, history) on a terminal, plain lines from
 * standard input otherwise (scripts, tests). */
#include <editline/readline.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone chat --model M [--adapter-path D] [--system TEXT]\n"
            "                 [--kernel FILE --sign MODE [--kernel-b FILE] [--reminder TEXT]]\n"
            "                 [--chat-template NAME] [sampling flags]\n"
            "\n"
            "An interactive chat. Type a message and Enter; the answer streams back. On a\n"
            "terminal the line editor keeps a history (arrow keys); otherwise each line of\n"
            "standard input is one user message and each answer is printed on its own line.\n"
            "Commands:\n"
            "  /reset          forget the conversation (the system message stays)\n"
            "  /system TEXT    set the system message (empty TEXT: none)\n"
            "  /kernel FILE    use this kernel from now on (signing mode: --sign, or system)\n"
            "  /sign MODE      none | system | prefix | postfix | sandwich\n"
            "  /help, /quit    (Ctrl-C stops an answer; Ctrl-D ends the chat)\n"
            "The kernel is applied to every user message of the conversation as --sign says\n"
            "(see 'hone generate --help' for the modes).\n"
            "\n"
            "  -m, --model M   GGUF file, HF folder or ollama:NAME[:TAG]\n"
            "  --system TEXT, --kernel FILE, --sign MODE, --kernel-b FILE, --reminder TEXT,\n"
            "  --chat-template NAME, --special: as for 'hone generate'\n"
            "%s\n%s",
            CLI_RUN_FLAGS_HELP, CLI_SAMPLING_FLAGS_HELP);
}

typedef struct turn {
    char *user, *assistant;
} turn;

typedef struct chat {
    cli_model cm;
    hone_chat_template *tmpl;
    hone_session *sess;
    hone_sampler *smp;
    cli_gen_flags gf;
    uint32_t n_ctx;
    char *system;
    char *kernel, *kernel_b;
    const char *reminder;
    hone_sign_mode mode;
    turn *turns;
    size_t n_turns, cap_turns;
    int32_t *held; /* tokens in the session */
    size_t n_held;
    int32_t eot[32];
    size_t n_eot;
    unsigned decode_flags;
    char *answer; /* the answer being generated */
    size_t n_answer, cap_answer;
} chat;

/* Ctrl-C while an answer streams stops that answer (not the chat). */
static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) { g_interrupted = 1; }

static int on_text(void *u, const char *t, size_t n) {
    chat *c = u;
    if (g_interrupted) return 1;
    fwrite(t, 1, n, stdout);
    fflush(stdout);
    if (c->n_answer + n + 1 > c->cap_answer) {
        size_t cap = (c->n_answer + n + 1) * 2;
        char *p = realloc(c->answer, cap);
        if (!p) return 1;
        c->answer = p;
        c->cap_answer = cap;
    }
    memcpy(c->answer + c->n_answer, t, n);
    c->n_answer += n;
    c->answer[c->n_answer] = 0;
    return 0;
}

static void chat_reset(chat *c) {
    for (size_t i = 0; i < c->n_turns; i++) {
        free(c->turns[i].user);
        free(c->turns[i].assistant);
    }
    c->n_turns = 0;
}

/* Renders and answers the conversation plus `user`. */
static int chat_turn(chat *c, const char *user, hone_err *err) {
    hone_sign sg = {c->mode, c->kernel, c->mode == HONE_SIGN_SANDWICH ? c->kernel_b : NULL,
                    c->mode == HONE_SIGN_SANDWICH ? c->reminder : NULL};
    if (sg.mode != HONE_SIGN_NONE && !sg.kernel) sg.mode = HONE_SIGN_NONE;
    size_t n_msgs = 0, cap = 2 * c->n_turns + 2;
    hone_chat_msg *msgs = calloc(cap, sizeof *msgs);
    char **owned = calloc(cap + 1, sizeof *owned);
    size_t n_owned = 0;
    int32_t *ids = NULL, *out = NULL;
    size_t n_ids = 0;
    int rc = HONE_ENOMEM;
    if (!msgs || !owned) goto done;
    char *sys = NULL;
    for (size_t i = 0; i <= c->n_turns; i++) {
        const char *u = i < c->n_turns ? c->turns[i].user : user;
        char *so = NULL, *uo = NULL;
        if ((rc = hone_sign_apply(&sg, c->system, u, &so, &uo, err))) goto done;
        if (i == 0) sys = so;
        else free(so);
        if (i == 0 && sys) owned[n_owned++] = sys;
        owned[n_owned++] = uo;
        if (i == 0 && sys) msgs[n_msgs++] = (hone_chat_msg){"system", sys};
        msgs[n_msgs++] = (hone_chat_msg){"user", uo};
        if (i < c->n_turns) msgs[n_msgs++] = (hone_chat_msg){"assistant", c->turns[i].assistant};
    }
    if ((rc = cli_encode_messages(&c->cm, c->tmpl, msgs, n_msgs, &ids, &n_ids, err))) goto done;
    if (n_ids + 1 >= c->n_ctx) {
        snprintf(err->msg, sizeof err->msg, "the conversation (%zu tokens) fills the context of %u "
                 "tokens: /reset, or a larger --ctx", n_ids, c->n_ctx);
        rc = err->code = HONE_EARG;
        goto done;
    }
    size_t n_past = 0;
    while (n_past < c->n_held && n_past < n_ids && c->held[n_past] == ids[n_past]) n_past++;
    if (n_past == n_ids) n_past--; /* at least one token to evaluate for fresh logits */
    size_t out_cap = c->n_ctx;
    if (!(out = malloc(out_cap * sizeof *out))) {
        rc = HONE_ENOMEM;
        goto done;
    }
    c->n_answer = 0;
    hone_gen_opts go = {.n_ctx = c->n_ctx, .n_batch = c->gf.n_batch, .max_tokens = c->gf.max_tokens,
                        .stop = c->gf.stops, .n_stop = c->gf.n_stop, .eot = c->eot,
                        .n_eot = c->n_eot, .ignore_eog = c->gf.ignore_eos,
                        .decode_flags = c->decode_flags, .on_text = on_text, .user = c,
                        .out_ids = out, .out_cap = out_cap};
    hone_gen_stats st;
    struct sigaction sa = {0}, old_sa;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);
    rc = hone_generate(c->sess, c->cm.tok, c->smp, ids, n_ids, n_past, &go, &st, err);
    sigaction(SIGINT, &old_sa, NULL);
    /* what the session holds now: the prompt and every sampled token but the last */
    free(c->held);
    c->held = NULL;
    c->n_held = 0;
    if (rc) goto done;
    size_t keep = st.n_gen ? st.n_gen - 1 : 0;
    if (!(c->held = malloc((n_ids + keep) * sizeof *c->held))) {
        rc = HONE_ENOMEM;
        goto done;
    }
    memcpy(c->held, ids, n_ids * sizeof *ids);
    memcpy(c->held + n_ids, out, keep * sizeof *out);
    c->n_held = n_ids + keep;
    printf("\n");
    if (st.finish == HONE_FINISH_LENGTH) fprintf(stderr, "[answer cut at the token limit]\n");
    if (st.finish == HONE_FINISH_ABORT) fprintf(stderr, "[stopped]\n");
    if (c->n_turns == c->cap_turns) {
        size_t nc = c->cap_turns ? 2 * c->cap_turns : 8;
        turn *t = realloc(c->turns, nc * sizeof *t);
        if (!t) {
            rc = HONE_ENOMEM;
            goto done;
        }
        c->turns = t;
        c->cap_turns = nc;
    }
    c->turns[c->n_turns].user = strdup(user);
    c->turns[c->n_turns].assistant = strdup(c->answer ? c->answer : "");
    c->n_turns++;
    rc = HONE_OK;
done:
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(msgs);
    free(ids);
    free(out);
    if (rc == HONE_ENOMEM && !err->msg[0]) snprintf(err->msg, sizeof err->msg, "chat: out of memory");
    return rc;
}

/* One input line (malloc'd, no newline), or NULL at the end of input. */
static char *read_line(int tty) {
    if (tty) {
        char *l = readline("> ");
        if (l && *l) add_history(l);
        return l;
    }
    char *l = NULL;
    size_t cap = 0;
    ssize_t n = getline(&l, &cap, stdin);
    if (n < 0) {
        free(l);
        return NULL;
    }
    while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r')) l[--n] = 0;
    return l;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = NULL, *kernel_file = NULL, *kernel_b_file = NULL;
    const char *sign = NULL, *tmpl_name = NULL;
    chat c;
    memset(&c, 0, sizeof c);
    cli_gen_flags_init(&c.gf, 1024);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int r = cli_gen_flag("chat", argc, argv, &i, &c.gf, 1);
        if (r == 2) return 2;
        if (r == 1) continue;
#define VAL(dst)                                                                \
    do {                                                                        \
        if (!val) return cli_usage_error("chat", "%s needs a value", a);        \
        dst = val;                                                              \
        i++;                                                                    \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) VAL(model);
        else if (!strcmp(a, "--system")) VAL(system);
        else if (!strcmp(a, "--kernel")) VAL(kernel_file);
        else if (!strcmp(a, "--kernel-b")) VAL(kernel_b_file);
        else if (!strcmp(a, "--reminder")) VAL(c.reminder);
        else if (!strcmp(a, "--sign")) VAL(sign);
        else if (!strcmp(a, "--chat-template")) VAL(tmpl_name);
        else if (!strcmp(a, "--special")) c.decode_flags = HONE_TOK_SPECIAL;
        else if (a[0] == '-') return cli_usage_error("chat", "unknown flag '%s'", a);
        else return cli_usage_error("chat", "unexpected argument '%s'", a);
#undef VAL
    }
    if (!model) return cli_usage_error("chat", "--model is required");
    hone_err err = {0};
    if (sign && hone_sign_mode_parse(sign, &c.mode, &err))
        return cli_usage_error("chat", "--sign: %s", err.msg);
    if (kernel_file && !sign) return cli_usage_error("chat", "--kernel needs --sign MODE");
    if (c.mode != HONE_SIGN_NONE && !kernel_file)
        return cli_usage_error("chat", "--sign %s needs --kernel FILE", sign);
    if ((kernel_b_file || c.reminder) && c.mode != HONE_SIGN_SANDWICH)
        return cli_usage_error("chat", "--kernel-b and --reminder need --sign sandwich");

    int rc = 1;
    if (system && !(c.system = strdup(system))) goto fail;
    if (kernel_file && !(c.kernel = cli_read_file(kernel_file, NULL, &err))) goto fail;
    if (kernel_b_file && !(c.kernel_b = cli_read_file(kernel_b_file, NULL, &err))) goto fail;
    if (cli_model_open(&c.cm, model, 1, &c.gf, &err)) goto fail;
    if (cli_template_open(&c.tmpl, &c.cm, tmpl_name, &err)) goto fail;
    if (hone_chat_template_warning(c.tmpl))
        fprintf(stderr, "hone: warning: %s\n", hone_chat_template_warning(c.tmpl));
    if (cli_session_open(&c.sess, &c.cm, &c.gf, &c.n_ctx, &err)) goto fail;
    if (!c.gf.seed_set) c.gf.sp.seed = cli_random_seed();
    if (hone_sampler_init(&c.smp, &c.gf.sp, c.cm.desc->vocab, &err)) goto fail;
    if (cli_eot_ids(&c.cm, c.tmpl, &c.gf, c.eot, 32, &c.n_eot, &err)) goto fail;
    int tty = isatty(0) && isatty(1);
    if (tty)
        fprintf(stderr, "hone chat: %s, template %s, context %u. /help for commands, Ctrl-D to end.\n",
                model, hone_chat_template_name(c.tmpl), c.n_ctx);
    for (;;) {
        char *line = read_line(tty);
        if (!line) break;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
            free(line);
            break;
        } else if (!strcmp(line, "/help")) {
            fprintf(stderr, "/reset, /system TEXT, /kernel FILE, /sign MODE, /quit\n");
        } else if (!strcmp(line, "/reset")) {
            chat_reset(&c);
            fprintf(stderr, "[conversation cleared]\n");
        } else if (!strncmp(line, "/system", 7) && (line[7] == ' ' || !line[7])) {
            free(c.system);
            c.system = line[7] && line[8] ? strdup(line + 8) : NULL;
            fprintf(stderr, c.system ? "[system message set]\n" : "[no system message]\n");
        } else if (!strncmp(line, "/kernel ", 8)) {
            hone_err e2 = {0};
            char *k = cli_read_file(line + 8, NULL, &e2);
            if (!k) {
                fprintf(stderr, "hone: %s\n", e2.msg);
            } else {
                free(c.kernel);
                c.kernel = k;
                if (c.mode == HONE_SIGN_NONE) c.mode = HONE_SIGN_SYSTEM;
                fprintf(stderr, "[kernel %s, signing mode %s]\n", line + 8, hone_sign_mode_name(c.mode));
            }
        } else if (!strncmp(line, "/sign ", 6)) {
            hone_err e2 = {0};
            hone_sign_mode m;
            if (hone_sign_mode_parse(line + 6, &m, &e2)) fprintf(stderr, "hone: %s\n", e2.msg);
            else {
                c.mode = m;
                fprintf(stderr, "[signing mode %s%s]\n", line + 6,
                        m != HONE_SIGN_NONE && !c.kernel ? "; no kernel yet: /kernel FILE" : "");
            }
        } else if (line[0] == '/') {
            fprintf(stderr, "hone: unknown command '%s' (/help)\n", line);
        } else if (line[0]) {
            hone_err e2 = {0};
            if (chat_turn(&c, line, &e2)) fprintf(stderr, "hone: %s\n", e2.msg);
        }
        free(line);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail_err(&err);
done:
    chat_reset(&c);
    free(c.turns);
    free(c.held);
    free(c.answer);
    free(c.system);
    free(c.kernel);
    free(c.kernel_b);
    hone_sampler_free(c.smp);
    if (c.sess) hone_session_free(c.sess);
    if (c.tmpl) hone_chat_template_close(c.tmpl);
    cli_model_close(&c.cm);
    return rc;
}
