/* llm_sha256.c: SHA-256 (FIPS 180-4) for model identities: "sha256:<hex>" of a model
 * file, as Ollama names its blobs, so an answer records exactly which weights gave it.
 * Plain portable C (a 270M-parameter GGUF hashes in about a second); files are read in
 * 1 MiB chunks. A folder (HF model, adapter) hashes the sorted list of its regular files
 * as "NAME\0<hex>\n" lines. Checked against the FIPS vectors (tests/unit/test_llm.c) and
 * Python's hashlib (tests/interop/test_ab_run_resume.py).
 * Cache (llm_sha256_file_cached): hashing a 4 GB model costs ~15 s a run, so the digest of
 * a regular file is kept in CACHE/sha256/<sha256 of its absolute path>, one line
 * "<size> <mtime s>.<mtime ns> <hex>", and reused while size and mtime match (a file
 * rewritten in place within the same nanosecond with the same size would be missed).
 * CACHE = $HONE_CACHE_DIR, else $XDG_CACHE_HOME/hone, else ~/.cache/hone; a cache that
 * cannot be read or written is ignored. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/llm_internal.h"
#include "util/fileio.h"

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t len; /* bytes so far */
    unsigned char buf[64];
    size_t nbuf;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(sha256_ctx *c, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
    c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(sha256_ctx *c) {
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->len = 0;
    c->nbuf = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t len) {
    const unsigned char *p = data;
    c->len += len;
    if (c->nbuf) {
        size_t k = 64 - c->nbuf < len ? 64 - c->nbuf : len;
        memcpy(c->buf + c->nbuf, p, k);
        c->nbuf += k;
        p += k;
        len -= k;
        if (c->nbuf == 64) {
            sha256_block(c, c->buf);
            c->nbuf = 0;
        }
    }
    for (; len >= 64; p += 64, len -= 64) sha256_block(c, p);
    memcpy(c->buf, p, len);
    c->nbuf += len;
}

static void sha256_final(sha256_ctx *c, unsigned char out[32]) {
    uint64_t bits = c->len * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
    for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(c->h[i] >> (24 - 8 * j));
}

void llm_sha256(const void *data, size_t len, unsigned char out[32]) {
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

static void to_hex(const unsigned char d[32], char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static int hash_regular_file(const char *path, char hex[65], hone_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return hone_err_set(err, HONE_EIO, "%s: cannot open: %s", path, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *b = malloc(CHUNK);
    if (!b) {
        fclose(f);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    sha256_ctx c;
    sha256_init(&c);
    size_t k;
    while ((k = fread(b, 1, CHUNK, f)) > 0) sha256_update(&c, b, k);
    int bad = ferror(f);
    fclose(f);
    free(b);
    if (bad) return hone_err_set(err, HONE_EIO, "%s: read error", path);
    unsigned char d[32];
    sha256_final(&c, d);
    to_hex(d, hex);
    return HONE_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int llm_sha256_file(const char *path, char hex[65], hone_err *err) {
    struct stat sb;
    if (stat(path, &sb)) return hone_err_set(err, HONE_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return hash_regular_file(path, hex, err);
    DIR *d = opendir(path);
    if (!d) return hone_err_set(err, HONE_EIO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = HONE_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) { rc = HONE_ENOMEM; break; }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = HONE_ENOMEM; break; }
        n++;
    }
    closedir(d);
    if (!rc) qsort(names, n, sizeof *names, cmp_str);
    sha256_ctx c;
    sha256_init(&c);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t pl = strlen(path) + strlen(names[i]) + 2;
        char *fp = malloc(pl);
        if (!fp) { rc = HONE_ENOMEM; break; }
        snprintf(fp, pl, "%s/%s", path, names[i]);
        if (!stat(fp, &sb) && S_ISREG(sb.st_mode)) {
            char h[65];
            rc = hash_regular_file(fp, h, err);
            if (!rc) {
                sha256_update(&c, names[i], strlen(names[i]) + 1);
                sha256_update(&c, h, 64);
                sha256_update(&c, "\n", 1);
            }
        }
        free(fp);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == HONE_ENOMEM) return hone_err_set(err, rc, "%s: out of memory", path);
    if (rc) return rc;
    unsigned char dg[32];
    sha256_final(&c, dg);
    to_hex(dg, hex);
    return HONE_OK;
}

/* CACHE/sha256 into out (created when missing); 0 when there is no usable folder. */
static int cache_dir(char *out, size_t cap) {
    const char *d = getenv("HONE_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    char base[3000];
    if (d && *d) snprintf(base, sizeof base, "%s", d);
    else if (x && *x) snprintf(base, sizeof base, "%s/hone", x);
    else if (h && *h) snprintf(base, sizeof base, "%s/.cache/hone", h);
    else return 0;
    if (h && *h && !(d && *d) && !(x && *x)) {
        char c[3000];
        snprintf(c, sizeof c, "%s/.cache", h);
        mkdir(c, 0755);
    }
    mkdir(base, 0755);
    snprintf(out, cap, "%s/sha256", base);
    mkdir(out, 0755);
    struct stat sb;
    return stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int llm_sha256_file_cached(const char *path, char hex[65], hone_err *err) {
    struct stat sb;
    char dir[3100], *abs = NULL;
    if (stat(path, &sb) || !S_ISREG(sb.st_mode) || !cache_dir(dir, sizeof dir) || !(abs = realpath(path, NULL)))
        return llm_sha256_file(path, hex, err);
    unsigned char d[32];
    llm_sha256(abs, strlen(abs), d);
    free(abs);
    char key[65], entry[3200], want[64];
    to_hex(d, key);
    snprintf(entry, sizeof entry, "%s/%.32s", dir, key);
    snprintf(want, sizeof want, "%lld %lld.%09ld ", (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
             (long)sb.st_mtim.tv_nsec);
    char *txt = NULL;
    size_t len = 0;
    hone_err ignore = {0};
    if (!hone_file_read_all(entry, &txt, &len, &ignore)) {
        size_t wl = strlen(want);
        int hit = len >= wl + 64 && !strncmp(txt, want, wl);
        for (size_t i = 0; hit && i < 64; i++) hit = strchr("0123456789abcdef", txt[wl + i]) && txt[wl + i];
        if (hit) {
            memcpy(hex, txt + wl, 64);
            hex[64] = 0;
            free(txt);
            return HONE_OK;
        }
        free(txt);
    }
    int rc = llm_sha256_file(path, hex, err);
    if (rc) return rc;
    hone_wfile w;
    if (!hone_wfile_open(&w, entry, &ignore)) {
        char line[200];
        int n = snprintf(line, sizeof line, "%s%s\n", want, hex);
        if (hone_wfile_write(&w, line, (size_t)n, &ignore) || hone_wfile_commit(&w, &ignore)) hone_wfile_abort(&w);
    }
    return HONE_OK;
}
