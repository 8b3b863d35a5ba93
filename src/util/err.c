/* err.c: filling hone_err (see err.h). Messages are truncated, never overflowed,
 * and always one line: names quoted from a file (GGUF keys, tensor names) may hold
 * any valid UTF-8, newlines and other control bytes included, so every control
 * byte of a finished message is replaced by '?'. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One line, printable: control bytes (C0 and DEL) become '?'. */
static void msg_one_line(char *m) {
    for (; *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f) *m = '?';
}

int hone_err_set(hone_err *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        msg_one_line(e->msg);
        e->code = code;
    }
    return code;
}

int hone_err_prefix(hone_err *e, const char *fmt, ...) {
    if (!e) return HONE_OK;
    char head[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
    msg_one_line(e->msg);
    return e->code;
}

const char *hone_strerror(int code) {
    switch (code) {
    case HONE_OK: return "ok";
    case HONE_EIO: return "i/o error";
    case HONE_EFORMAT: return "bad format";
    case HONE_ENOMEM: return "out of memory";
    case HONE_EUNSUPPORTED: return "unsupported";
    case HONE_EARG: return "bad argument";
    case HONE_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
