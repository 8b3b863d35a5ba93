/* fileio.h: read-only file mappings and atomic, checked writes.
 *
 * hone_map: mmap of a whole file (weights are never copied; opening a 10 GB
 * model touches no tensor page). An empty file maps to size 0, data NULL.
 *
 * hone_wfile: every output goes to "PATH.tmp.PID", each write is checked (a full
 * disk is an error naming the file), and hone_wfile_commit() fsyncs and renames
 * it over PATH. hone_wfile_abort() (or a failed commit) unlinks the temporary, so
 * a crash or an error never leaves a half-written PATH behind.
 */
#ifndef HONE_UTIL_FILEIO_H
#define HONE_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

typedef struct hone_map {
    const uint8_t *data; /* (size) bytes, read-only */
    size_t size;
} hone_map;

int hone_map_open(hone_map *m, const char *path, hone_err *err);
void hone_map_close(hone_map *m);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. */
int hone_file_read_all(const char *path, char **out, size_t *len, hone_err *err);

typedef struct hone_wfile {
    FILE *f;
    char *path;    /* final name */
    char *tmppath; /* where bytes go until commit */
    uint64_t written;
    int failed;
} hone_wfile;

int hone_wfile_open(hone_wfile *w, const char *path, hone_err *err);
int hone_wfile_write(hone_wfile *w, const void *p, size_t n, hone_err *err);
/* Writes n zero bytes. */
int hone_wfile_pad(hone_wfile *w, size_t n, hone_err *err);
int hone_wfile_commit(hone_wfile *w, hone_err *err);
void hone_wfile_abort(hone_wfile *w);

#endif
