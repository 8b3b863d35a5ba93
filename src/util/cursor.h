/* cursor.h: bounds-checked little-endian reads over an in-memory byte range.
 *
 * Every binary parser reads through a hone_cursor. A read never trusts a length
 * from the file: it checks it against the bytes that remain first, and on failure
 * records "PATH: byte OFFSET: expected WHAT" in the cursor's error and returns
 * non-zero. Failures are sticky: once `failed` is set every later read fails too,
 * so a parser can do several reads and check once.
 */
#ifndef HONE_UTIL_CURSOR_H
#define HONE_UTIL_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"

typedef struct hone_cursor {
    const uint8_t *base; /* (size) bytes */
    size_t size;
    size_t pos;
    const char *path; /* for messages */
    hone_err *err;
    int failed;
} hone_cursor;

static inline void cursor_init(hone_cursor *c, const void *base, size_t size, const char *path,
                               hone_err *err) {
    c->base = (const uint8_t *)base;
    c->size = size;
    c->pos = 0;
    c->path = path;
    c->err = err;
    c->failed = 0;
}

static inline size_t cursor_left(const hone_cursor *c) { return c->size - c->pos; }

/* Records a failure at the current offset; returns HONE_EFORMAT. */
int cursor_fail(hone_cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, at an explicit offset. */
int cursor_fail_at(hone_cursor *c, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns a pointer to the next n bytes and advances, or NULL (and fails) if
 * fewer than n remain. `what` names the field for the message. */
static inline const uint8_t *cursor_take(hone_cursor *c, uint64_t n, const char *what) {
    if (c->failed) return NULL;
    if (n > cursor_left(c)) {
        cursor_fail(c, "expected %s of %llu bytes, only %zu left in file", what,
                    (unsigned long long)n, cursor_left(c));
        return NULL;
    }
    const uint8_t *p = c->base + c->pos;
    c->pos += (size_t)n;
    return p;
}

#define HONE_CURSOR_READ(name, T)                                            \
    static inline int cursor_##name(hone_cursor *c, T *out, const char *what) { \
        const uint8_t *p = cursor_take(c, sizeof(T), what);                  \
        if (!p) return HONE_EFORMAT;                                         \
        memcpy(out, p, sizeof(T));                                           \
        return HONE_OK;                                                      \
    }
HONE_CURSOR_READ(u8, uint8_t)
HONE_CURSOR_READ(u16, uint16_t)
HONE_CURSOR_READ(u32, uint32_t)
HONE_CURSOR_READ(u64, uint64_t)
HONE_CURSOR_READ(i64, int64_t)
#undef HONE_CURSOR_READ

/* Aligns pos up to a multiple of `align` (a power of two or any non-zero value). */
int cursor_align(hone_cursor *c, uint64_t align, const char *what);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
 * else 0 and *bad = offset of the first bad byte. */
int utf8_valid(const uint8_t *s, size_t n, size_t *bad);

#endif
