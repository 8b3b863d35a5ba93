/* ds_internal.h: dataset internals shared by the files of src/data (not public). */
#ifndef HONE_DATA_DS_INTERNAL_H
#define HONE_DATA_DS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hone/dataset.h"

typedef struct ds_path_el {
    const char *key; /* NULL: an array index */
    size_t idx;
} ds_path_el;

/* 1-based column (Unicode characters) where path[0..np) starts in the JSON text line[0..len)
 * (a key: its opening quote; an index: the element); the deepest container found when a step
 * is missing; 1 for np == 0. */
int ds_column(const char *line, size_t len, const ds_path_el *path, size_t np);

/* hone_ds_diags_sort with the files ranked by their order in paths (others after them, in
 * first-seen order). */
void ds_diags_sort_files(hone_ds_diags *d, const char *const *paths, size_t n_paths);

/* FNV-1a 64 and splitmix64, the hashes of the data tools. */
uint64_t ds_fnv1a(const void *p, size_t n, uint64_t h);
#define DS_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t ds_splitmix64(uint64_t z);

/* Unicode White_Space (plus U+200B, U+FEFF) only, or empty. */
int ds_is_blank(const char *s);

/* The normalised prompt of a chat record (roles + normalised contents of every message but the
 * final one; what data check calls "the same prompt"), malloc'd; NULL for text records or
 * when out of memory. */
char *ds_prompt_key(const hone_ds_record *r);

#endif
