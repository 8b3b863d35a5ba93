/* fuzz_chat.c: chat template detection, template-file parsing and rendering on arbitrary bytes.
 * The input is (1) given to hone_chat_template_detect, (2) parsed as a template file and, when it
 * parses, used to render a fixed conversation, (3) split at 0x01 bytes into messages (the first
 * byte of each picks the role) rendered with every built-in, with and without a generation
 * prompt. Every returned span must lie inside the output, content inside its turn. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/chat_internal.h"

#define MAXMSG 16

static void check(const char *out, size_t len, const hone_chat_span *sp, size_t n) {
    if (strlen(out) > len) abort();
    for (size_t i = 0; i < n; i++) {
        if (sp[i].begin > sp[i].end || sp[i].end > len || sp[i].turn_end > len) abort();
        if (sp[i].shown && (sp[i].turn_begin > sp[i].begin || sp[i].turn_end < sp[i].end)) abort();
    }
}

static void render_all(hone_chat_template *t, const hone_chat_msg *m, size_t n) {
    hone_chat_span sp[MAXMSG];
    for (int gen = 0; gen < 2; gen++) {
        char *out = NULL;
        size_t len = 0;
        hone_err err = {0};
        if (hone_chat_render(t, m, n, gen, &out, &len, sp, &err) == HONE_OK) {
            check(out, len, sp, n);
            free(out);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hone_chat_template_detect((const char *)data, size);

    hone_err err = {0};
    hone_chat_template *t;
    static const hone_chat_msg fixed[] = {{"system", "S"}, {"user", " U "}, {"assistant", "A</think>B"}, {"user", "Q"}};
    if (chat_template_from_text(&t, "fuzz", (const char *)data, size, &err) == HONE_OK) {
        render_all(t, fixed, 4);
        render_all(t, fixed + 1, 3);
        hone_chat_template_close(t);
    }

    /* Messages: NUL-terminated copies of the 0x01-separated chunks. */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    static const char *roles[] = {"system", "user", "assistant", "model"};
    hone_chat_msg m[MAXMSG];
    size_t n = 0;
    char *p = buf;
    while (n < MAXMSG) {
        char *sep = memchr(p, 1, (size_t)(buf + size - p));
        if (sep) *sep = 0;
        m[n].role = roles[(uint8_t)p[0] % 4];
        m[n].content = p[0] ? p + 1 : p;
        n++;
        if (!sep) break;
        p = sep + 1;
    }
    for (const char *const *nm = hone_chat_template_names(); *nm; nm++) {
        if (hone_chat_template_open(&t, *nm, &err) != HONE_OK) abort();
        render_all(t, m, n);
        hone_chat_template_close(t);
    }
    free(buf);
    return 0;
}
