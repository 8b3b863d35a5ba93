/* analysis.h: the A/B analysis as a JSON tree, shared by hone_ab_analyze (results.json) and
 * the report writers (src/eval/report.c). Layout: the top comment of analysis.c. */
#ifndef HONE_EVAL_ANALYSIS_H
#define HONE_EVAL_ANALYSIS_H

#include <jansson.h>

#include "hone.h"

int ab_analyze_tree(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o, json_t **out,
                    hone_err *err);

#endif
