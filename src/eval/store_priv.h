/* store_priv.h: internal access to the A/B store's SQLite handle, for the read-only queries
 * of the analysis (src/eval/analysis.c). ab_store_lock takes the store's mutex and returns
 * the handle; every lock is paired with ab_store_unlock. */
#ifndef HONE_EVAL_STORE_PRIV_H
#define HONE_EVAL_STORE_PRIV_H

#include <sqlite3.h>

#include "hone.h"

sqlite3 *ab_store_lock(hone_ab_store *st);
void ab_store_unlock(hone_ab_store *st);
const char *ab_store_path(const hone_ab_store *st);

#endif
