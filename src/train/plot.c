/* plot.c: the loss plot of `hone train` as a small self-contained SVG (no fonts or scripts
 * beyond SVG text): training loss as a line, validation loss as a line with dots, axes with
 * min/max labels. Rewritten atomically (hone_wfile) at every evaluation. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "train/loop.h"
#include "util/err.h"
#include "util/fileio.h"

#define W 720.0
#define H 420.0
#define ML 70.0 /* margins */
#define MR 20.0
#define MT 30.0
#define MB 50.0

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...) {
    if (s->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { s->oom = 1; return; }
        if (s->p && s->n + (size_t)k < s->cap) { s->n += (size_t)k; return; }
        size_t cap = (s->cap + (size_t)k + 1) * 2;
        char *q = realloc(s->p, cap);
        if (!q) { s->oom = 1; return; }
        s->p = q;
        s->cap = cap;
    }
}

static void series(sbuf *s, const double *x, const double *y, size_t n, double x0, double x1, double y0, double y1,
                   const char *color, int dots) {
    if (!n) return;
    sb_printf(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) continue;
        double px = ML + (x[i] - x0) / (x1 - x0) * (W - ML - MR), py = MT + (y1 - y[i]) / (y1 - y0) * (H - MT - MB);
        sb_printf(s, "%.1f,%.1f ", px, py);
    }
    sb_printf(s, "\"/>\n");
    if (dots)
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(y[i])) continue;
            double px = ML + (x[i] - x0) / (x1 - x0) * (W - ML - MR), py = MT + (y1 - y[i]) / (y1 - y0) * (H - MT - MB);
            sb_printf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", px, py, color);
        }
}

int hone_train_plot_svg(const char *path, const double *ti, const double *tl, size_t nt, const double *vi,
                        const double *vl, size_t nv, hone_err *err) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < nt; i++)
        if (isfinite(tl[i])) x0 = fmin(x0, ti[i]), x1 = fmax(x1, ti[i]), y0 = fmin(y0, tl[i]), y1 = fmax(y1, tl[i]);
    for (size_t i = 0; i < nv; i++)
        if (isfinite(vl[i])) x0 = fmin(x0, vi[i]), x1 = fmax(x1, vi[i]), y0 = fmin(y0, vl[i]), y1 = fmax(y1, vl[i]);
    if (!isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1e-3;
    double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    sbuf s = {0};
    sb_printf(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              W, H, W, H);
    sb_printf(&s, "<text x=\"%g\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">hone train: loss</text>\n", W / 2);
    sb_printf(&s, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", ML, H - MB, W - MR, H - MB);
    sb_printf(&s, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", ML, MT, ML, H - MB);
    for (int k = 0; k <= 4; k++) {
        double yv = y0 + (y1 - y0) * k / 4.0, py = MT + (y1 - yv) / (y1 - y0) * (H - MT - MB);
        sb_printf(&s, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML, py, W - MR, py);
        sb_printf(&s, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n", ML - 6, py + 4, yv);
        double xv = x0 + (x1 - x0) * k / 4.0, px = ML + (xv - x0) / (x1 - x0) * (W - ML - MR);
        sb_printf(&s, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%.0f</text>\n", px, H - MB + 18, xv);
    }
    sb_printf(&s, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">iteration</text>\n", (ML + W - MR) / 2, H - 10);
    series(&s, ti, tl, nt, x0, x1, y0, y1, "#1f77b4", 0);
    series(&s, vi, vl, nv, x0, x1, y0, y1, "#ff7f0e", 1);
    sb_printf(&s, "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"4\" fill=\"#1f77b4\"/><text x=\"%g\" y=\"%g\">train</text>\n",
              W - MR - 150, MT + 4, W - MR - 134, MT + 9);
    sb_printf(&s, "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"4\" fill=\"#ff7f0e\"/><text x=\"%g\" y=\"%g\">validation</text>\n",
              W - MR - 90, MT + 4, W - MR - 74, MT + 9);
    sb_printf(&s, "</svg>\n");
    if (s.oom) {
        free(s.p);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    hone_wfile w;
    int rc = hone_wfile_open(&w, path, err);
    if (!rc) rc = hone_wfile_write(&w, s.p, s.n, err);
    if (!rc) rc = hone_wfile_commit(&w, err);
    else hone_wfile_abort(&w);
    free(s.p);
    return rc;
}
