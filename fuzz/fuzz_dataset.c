/* fuzz_dataset.c: the JSONL training-record loader on arbitrary bytes, in both modes.
 * Invariants: stop-at-first mode fails exactly when collect mode finds an error, with the same
 * message as collect mode's first error; every diagnostic is one printable line starting with
 * "NAME:LINE:COLUMN: " with 1 <= LINE <= the file's lines and COLUMN >= 1; every record has its
 * file's format, a line in range, and (chat formats) a conversation that ends with an assistant
 * message whose roles are normalised. Corpus: tests/corpus/dataset/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hone_err err = {0}, err2 = {0};
    hone_ds *a = NULL, *b = NULL;
    hone_ds_diags dg = {0};
    int rc1 = hone_ds_load_mem(&a, "f", (const char *)data, size, NULL, &err);
    int rc2 = hone_ds_load_mem(&b, "f", (const char *)data, size, &dg, &err2);
    if (rc2 != HONE_OK) abort();
    if ((rc1 == HONE_OK) != (dg.n_errors == 0)) abort();
    if (rc1 != HONE_OK) {
        const hone_ds_diag *first = NULL;
        for (size_t i = 0; i < dg.n && !first; i++)
            if (dg.v[i].severity == HONE_DS_ERROR) first = &dg.v[i];
        if (!first || strcmp(first->msg, err.msg) != 0) abort();
    } else if (a->n != b->n || a->format != b->format) abort();
    for (size_t i = 0; i < dg.n; i++) {
        const hone_ds_diag *d = &dg.v[i];
        char head[64];
        snprintf(head, sizeof head, "f:%d:%d: ", d->line, d->column);
        if (strncmp(d->msg, head, strlen(head)) || d->line < 1 || d->line > b->n_lines || d->column < 1) abort();
        for (const char *p = d->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) abort();
    }
    for (size_t i = 0; i < b->n; i++) {
        const hone_ds_record *r = &b->recs[i];
        if (r->format != b->format || r->line < 1 || r->line > b->n_lines || !r->raw) abort();
        if (r->format == HONE_DS_TEXT) {
            if (!r->text || r->msgs) abort();
        } else {
            if (!r->n_msgs || strcmp(r->msgs[r->n_msgs - 1].role, "assistant")) abort();
            for (size_t k = 0; k < r->n_msgs; k++)
                if (strcmp(r->msgs[k].role, "system") && strcmp(r->msgs[k].role, "user") &&
                    strcmp(r->msgs[k].role, "assistant"))
                    abort();
        }
    }
    hone_ds_free(a);
    hone_ds_free(b);
    hone_ds_diags_free(&dg);
    return 0;
}
