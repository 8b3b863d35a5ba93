/* dtype.c: the ggml tensor type table (ids as stored in GGUF, block sizes).
 * Facts from the GGUF/ggml format: each type packs `block` elements in
 * `bytes` bytes. Ids that ggml retired (4, 5, 31-33, 36-38) are undefined here. */
#include "hone.h"

typedef struct { const char *name; uint32_t block, bytes; } dtype_info;

static const dtype_info DTYPES[HONE_DTYPE_COUNT] = {
    [HONE_F32] = {"F32", 1, 4},         [HONE_F16] = {"F16", 1, 2},
    [HONE_Q4_0] = {"Q4_0", 32, 18},     [HONE_Q4_1] = {"Q4_1", 32, 20},
    [HONE_Q5_0] = {"Q5_0", 32, 22},     [HONE_Q5_1] = {"Q5_1", 32, 24},
    [HONE_Q8_0] = {"Q8_0", 32, 34},     [HONE_Q8_1] = {"Q8_1", 32, 36},
    [HONE_Q2_K] = {"Q2_K", 256, 84},    [HONE_Q3_K] = {"Q3_K", 256, 110},
    [HONE_Q4_K] = {"Q4_K", 256, 144},   [HONE_Q5_K] = {"Q5_K", 256, 176},
    [HONE_Q6_K] = {"Q6_K", 256, 210},   [HONE_Q8_K] = {"Q8_K", 256, 292},
    [HONE_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [HONE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [HONE_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [HONE_IQ1_S] = {"IQ1_S", 256, 50},
    [HONE_IQ4_NL] = {"IQ4_NL", 32, 18}, [HONE_IQ3_S] = {"IQ3_S", 256, 110},
    [HONE_IQ2_S] = {"IQ2_S", 256, 82},  [HONE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [HONE_I8] = {"I8", 1, 1},           [HONE_I16] = {"I16", 1, 2},
    [HONE_I32] = {"I32", 1, 4},         [HONE_I64] = {"I64", 1, 8},
    [HONE_F64] = {"F64", 1, 8},         [HONE_IQ1_M] = {"IQ1_M", 256, 56},
    [HONE_BF16] = {"BF16", 1, 2},       [HONE_TQ1_0] = {"TQ1_0", 256, 54},
    [HONE_TQ2_0] = {"TQ2_0", 256, 66},  [HONE_MXFP4] = {"MXFP4", 32, 17},
};

const char *hone_dtype_name(int type) {
    return type >= 0 && type < HONE_DTYPE_COUNT ? DTYPES[type].name : NULL;
}

uint32_t hone_dtype_block(int type) {
    return type >= 0 && type < HONE_DTYPE_COUNT ? DTYPES[type].block : 0;
}

uint32_t hone_dtype_block_bytes(int type) {
    return type >= 0 && type < HONE_DTYPE_COUNT ? DTYPES[type].bytes : 0;
}

uint64_t hone_dtype_row_bytes(int type, uint64_t n) {
    uint32_t b = hone_dtype_block(type);
    if (!b || n % b) return UINT64_MAX;
    uint64_t blocks = n / b, bytes = hone_dtype_block_bytes(type);
    if (blocks > UINT64_MAX / bytes) return UINT64_MAX;
    return blocks * bytes;
}
