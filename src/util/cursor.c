/* cursor.c: failure reporting and UTF-8 validation for the bounds-checked cursor. */
#include "util/cursor.h"

#include <stdarg.h>
#include <stdio.h>

static int cursor_vfail(hone_cursor *c, size_t off, const char *fmt, va_list ap) {
    if (c->failed) return HONE_EFORMAT; /* keep the first error */
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    c->failed = 1;
    return hone_err_set(c->err, HONE_EFORMAT, "%s: byte %zu: %s", c->path ? c->path : "<memory>",
                        off, what);
}

int cursor_fail(hone_cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = cursor_vfail(c, c->pos, fmt, ap);
    va_end(ap);
    return r;
}

int cursor_fail_at(hone_cursor *c, size_t off, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = cursor_vfail(c, off, fmt, ap);
    va_end(ap);
    return r;
}

int cursor_align(hone_cursor *c, uint64_t align, const char *what) {
    if (c->failed) return HONE_EFORMAT;
    uint64_t rem = c->pos % align;
    if (rem == 0) return HONE_OK;
    return cursor_take(c, align - rem, what) ? HONE_OK : HONE_EFORMAT;
}

int utf8_valid(const uint8_t *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) { i++; continue; }
        size_t len;
        uint32_t cp, min;
        if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1F; min = 0x80; }
        else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0F; min = 0x800; }
        else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07; min = 0x10000; }
        else goto fail;
        if (n - i < len) goto fail;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto fail;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
        i += len;
    }
    return 1;
fail:
    if (bad) *bad = i;
    return 0;
}
