/* fileio.c: mmap'd reads and atomic writes (see fileio.h). */
#define _GNU_SOURCE
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hone_map_open(hone_map *m, const char *path, hone_err *err) {
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hone_err_set(err, HONE_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hone_err_set(err, HONE_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return hone_err_set(err, HONE_EIO, "%s: is a directory, expected a file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return hone_err_set(err, HONE_EIO, "%s: cannot map: %s", path, strerror(e));
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return HONE_OK;
}

void hone_map_close(hone_map *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int hone_file_read_all(const char *path, char **out, size_t *len, hone_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hone_err_set(err, HONE_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path); }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (cap - n - 1 == 0) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return hone_err_set(err, HONE_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return HONE_OK;
}

int hone_wfile_open(hone_wfile *w, const char *path, hone_err *err) {
    memset(w, 0, sizeof *w);
    w->path = strdup(path);
    if (!w->path || asprintf(&w->tmppath, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        free(w->path);
        w->path = NULL;
        w->tmppath = NULL;
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    w->f = fopen(w->tmppath, "wb");
    if (!w->f) {
        int e = errno;
        hone_err_set(err, HONE_EIO, "%s: cannot create: %s", w->tmppath, strerror(e));
        free(w->path);
        free(w->tmppath);
        memset(w, 0, sizeof *w);
        return HONE_EIO;
    }
    return HONE_OK;
}

int hone_wfile_write(hone_wfile *w, const void *p, size_t n, hone_err *err) {
    if (w->failed) return HONE_EIO;
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        return hone_err_set(err, HONE_EIO, "%s: write failed at byte %llu: %s", w->tmppath,
                            (unsigned long long)w->written, strerror(errno));
    }
    w->written += n;
    return HONE_OK;
}

int hone_wfile_pad(hone_wfile *w, size_t n, hone_err *err) {
    static const uint8_t zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        int r = hone_wfile_write(w, zeros, k, err);
        if (r) return r;
        n -= k;
    }
    return HONE_OK;
}

int hone_wfile_commit(hone_wfile *w, hone_err *err) {
    int r = HONE_OK;
    if (w->failed) r = HONE_EIO;
    if (!r && fflush(w->f) != 0)
        r = hone_err_set(err, HONE_EIO, "%s: write failed: %s", w->tmppath, strerror(errno));
    if (!r && fsync(fileno(w->f)) != 0)
        r = hone_err_set(err, HONE_EIO, "%s: fsync failed: %s", w->tmppath, strerror(errno));
    if (fclose(w->f) != 0 && !r)
        r = hone_err_set(err, HONE_EIO, "%s: close failed: %s", w->tmppath, strerror(errno));
    w->f = NULL;
    if (!r && rename(w->tmppath, w->path) != 0)
        r = hone_err_set(err, HONE_EIO, "%s: cannot rename to %s: %s", w->tmppath, w->path,
                         strerror(errno));
    if (r) unlink(w->tmppath);
    free(w->path);
    free(w->tmppath);
    memset(w, 0, sizeof *w);
    return r;
}

void hone_wfile_abort(hone_wfile *w) {
    if (w->f) fclose(w->f);
    if (w->tmppath) unlink(w->tmppath);
    free(w->path);
    free(w->tmppath);
    memset(w, 0, sizeof *w);
}
