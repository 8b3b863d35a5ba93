/* err.h: the error convention of the library.
 *
 * Every library function that can fail returns an int status (HONE_OK == 0,
 * a negative HONE_E* code otherwise) and, on failure, fills a caller-owned
 * hone_err with one line of text naming the file, the byte offset or JSON path,
 * and what was expected. Only the CLI prints it. The type is public (hone.h).
 */
#ifndef HONE_UTIL_ERR_H
#define HONE_UTIL_ERR_H

#include "hone.h"

/* Sets e (may be NULL) and returns code, so callers can `return hone_err_set(...)`. */
int hone_err_set(hone_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with more context ("while reading X: ..."). */
int hone_err_prefix(hone_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
