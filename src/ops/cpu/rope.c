/* rope.c: rotary embedding in place on x (T, H, head_dim): per token one table
 * of cos/sin(pos * freq_i) (float angle, as the reference), shared by all heads;
 * pairs (2i, 2i+1) for HONE_ROPE_NORM, (i, i + rope_dim/2) for HONE_ROPE_NEOX.
 * The rotation loops vectorize; the level only matters through the compiler. */
#include <math.h>
#include <stdlib.h>

#include "ops/cpu/kern.h"

void cpu_rope(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim, int64_t rope_dim,
              const float *freqs, hone_rope_mode mode, int level) {
    int64_t n = rope_dim / 2;
    float *cs = cpu_kern_scratch(3, sizeof(float) * 2 * (size_t)(n ? n : 1)), *sn = cs + n;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t i = 0; i < n; i++) {
            float th = (float)pos[t] * freqs[i];
            cs[i] = cosf(th);
            sn[i] = sinf(th);
        }
        for (int64_t h = 0; h < H; h++) {
            float *v = x + (t * H + h) * head_dim;
            if (mode == HONE_ROPE_NEOX) {
                float *a = v, *b = v + n;
                for (int64_t i = 0; i < n; i++) {
                    float x0 = a[i], x1 = b[i];
                    a[i] = x0 * cs[i] - x1 * sn[i];
                    b[i] = x0 * sn[i] + x1 * cs[i];
                }
            } else {
                for (int64_t i = 0; i < n; i++) {
                    float x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = x0 * cs[i] - x1 * sn[i];
                    v[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
                }
            }
        }
    }
}
