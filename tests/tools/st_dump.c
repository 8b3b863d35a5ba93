/* st_dump.c: prints what hone's safetensors reader sees, for
 * tests/interop/test_safetensors_read.py to compare with the PyPI package.
 *
 * usage: st_dump PATH   (a .safetensors file, an index .json, or an HF folder)
 * Output, one item per line:
 *   meta KEY VALUE
 *   tensor NAME DTYPE SHAPE(d0,d1,..; "-" for 0-d) SHARD OFFSET NBYTES
 *   values V V V ...   (every element: floats as C99 hex of the value widened
 *                       to double, exact; integers in decimal; bool 0/1)
 * Exits 1 with the library's one-line error if the open fails. */
#include <stdio.h>
#include <string.h>

#include "hone.h"

static float f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
    if (e == 0) {
        if (m == 0) u = s;
        else { /* subnormal: renormalise */
            e = 113;
            while (!(m & 1024)) { m <<= 1; e--; }
            u = s | (e << 23) | ((m & 1023) << 13);
        }
    } else if (e == 31) {
        u = s | 0x7f800000u | (m << 13);
    } else {
        u = s | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: st_dump PATH\n");
        return 2;
    }
    hone_err err = {0};
    hone_st *st;
    if (hone_st_open(&st, argv[1], &err)) {
        fprintf(stderr, "st_dump: %s\n", err.msg);
        return 1;
    }
    for (int64_t i = 0; i < hone_st_n_meta(st); i++)
        printf("meta %s %s\n", hone_st_meta_key(st, i), hone_st_meta_value(st, i));
    for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
        int dt = hone_st_tensor_dtype(st, t);
        uint32_t nd = hone_st_tensor_ndim(st, t);
        const uint64_t *sh = hone_st_tensor_shape(st, t);
        printf("tensor %s %s ", hone_st_tensor_name(st, t), hone_st_dtype_str(dt));
        if (!nd) printf("-");
        for (uint32_t k = 0; k < nd; k++) printf("%s%llu", k ? "," : "", (unsigned long long)sh[k]);
        printf(" %d %llu %llu\nvalues", hone_st_tensor_shard(st, t), (unsigned long long)hone_st_tensor_offset(st, t),
               (unsigned long long)hone_st_tensor_nbytes(st, t));
        const uint8_t *p = hone_st_tensor_data(st, t);
        uint64_t n = hone_st_tensor_nelem(st, t);
        for (uint64_t i = 0; i < n; i++) {
            union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
                    uint64_t u64; int64_t i64; double f64; } v;
            memcpy(&v, p + i * hone_st_dtype_size(dt), hone_st_dtype_size(dt));
            switch (dt) {
            case HONE_ST_BOOL: case HONE_ST_U8: case HONE_ST_F8_E4M3: case HONE_ST_F8_E5M2: printf(" %u", v.u8); break;
            case HONE_ST_I8: printf(" %d", v.i8); break;
            case HONE_ST_U16: printf(" %u", v.u16); break;
            case HONE_ST_I16: printf(" %d", v.i16); break;
            case HONE_ST_U32: printf(" %u", v.u32); break;
            case HONE_ST_I32: printf(" %d", v.i32); break;
            case HONE_ST_U64: printf(" %llu", (unsigned long long)v.u64); break;
            case HONE_ST_I64: printf(" %lld", (long long)v.i64); break;
            case HONE_ST_F16: printf(" %a", (double)f16_to_f32(v.u16)); break;
            case HONE_ST_BF16: {
                uint32_t u = (uint32_t)v.u16 << 16;
                float f;
                memcpy(&f, &u, 4);
                printf(" %a", (double)f);
                break;
            }
            case HONE_ST_F32: printf(" %a", (double)v.f32); break;
            case HONE_ST_F64: printf(" %a", v.f64); break;
            }
        }
        printf("\n");
    }
    hone_st_close(st);
    return 0;
}
