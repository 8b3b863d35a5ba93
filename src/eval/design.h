/* design.h: the experiment's design as the report needs it, read back from the store's
 * design record (meta key 'design', JSON written by hone_ab_store_put_design). */
#ifndef HONE_EVAL_DESIGN_H
#define HONE_EVAL_DESIGN_H

#include <stddef.h>

#include "hone.h"

typedef struct ab_design_probe {
    const char *id, *prompt, *category, *lang, *signal;
} ab_design_probe;

typedef struct ab_design_judge {
    const char *label, *model, *rubric;
    int score, pairwise; /* modes */
} ab_design_judge;

typedef struct ab_design {
    void *json;          /* the parsed record (json_t *); the strings below point into it */
    const char *name, *spec_path;
    size_t baseline;
    long samples;
    const char **models;     size_t n_models;
    const char **conditions; size_t n_conditions;
    const char **modes;      /* per condition */
    ab_design_probe *probes; size_t n_probes;
    ab_design_judge *judges; size_t n_judges;
} ab_design;

/* The design record of a spec (JSON text, malloc'd), or NULL when out of memory. */
char *ab_design_text(const hone_ab_spec *s);
/* Parses a design record; errors name the JSON path. */
int ab_design_parse(ab_design *d, const char *json_text, hone_err *err);
void ab_design_free(ab_design *d);
/* Index of id in a list of n ids, or -1. */
int ab_design_find(const char *const *ids, size_t n, const char *id);
int ab_design_find_probe(const ab_design *d, const char *id);

#endif
