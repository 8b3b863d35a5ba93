/* fuzz_judge_parse.c: the judge-reply parser (src/eval/judge_parse.c) on arbitrary bytes.
 * A reply either parses to a finite score in [0, 10] or is refused with HONE_EFORMAT, a NaN
 * score and a reason (what the store keeps); nothing else may happen. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    double v;
    hone_err err = {0};
    int rc = hone_ab_judge_parse(s, &v, &err);
    if (rc == HONE_OK) {
        if (!(v >= 0 && v <= 10)) abort();
    } else {
        if (rc != HONE_EFORMAT || !isnan(v) || !err.msg[0]) abort();
    }
    free(s);
    return 0;
}
