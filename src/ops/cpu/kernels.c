/* kernels.c: the fast CPU backend table (hone_cpu_kernels) and its run-time
 * dispatch. Entries left NULL are filled from the reference backend by the
 * engine (src/ops/backend.c). The level is read at each call, so tests can force
 * the scalar / AVX2 / AVX-512 paths on one machine (cpu_kern_force).
 *
 * Matmul picks per weight type: quantized types with an int8 decoder take the
 * INT16 variant (15-bit activations through the INT8 kernels; INT8 itself
 * misses the >= 99 % top-1 agreement target, bench/RESULTS.md) where AVX-512
 * VNNI exists and, on AVX2, for T = 1 (streamed rows, vpmaddubsw); everything
 * else the F32 variant. HONE_MATMUL=int8|int16|f32 replaces that default
 * (int8 and int16 fall back to F32 for types without an int8 decoder). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/kern.h"

/* ---- per-thread scratch (kern.h) ---- */

typedef struct {
    void *p[CPU_SCRATCH_SLOTS];
    size_t n[CPU_SCRATCH_SLOTS];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread scratch_set *scratch_tls;

static void scratch_free(void *v) {
    scratch_set *ss = v;
    for (int i = 0; i < CPU_SCRATCH_SLOTS; i++) free(ss->p[i]);
    free(ss);
}

static void scratch_key_init(void) {
    if (pthread_key_create(&scratch_key, scratch_free)) abort();
}

void *cpu_kern_scratch(int slot, size_t n) {
    scratch_set *ss = scratch_tls;
    if (!ss) {
        pthread_once(&scratch_once, scratch_key_init);
        ss = calloc(1, sizeof *ss);
        if (!ss || pthread_setspecific(scratch_key, ss)) abort();
        scratch_tls = ss;
    }
    if (n > ss->n[slot] || !ss->p[slot]) {
        free(ss->p[slot]);
        ss->p[slot] = cpu_kern_alloc(n ? n : 1);
        ss->n[slot] = n;
    }
    return ss->p[slot];
}

void cpu_kern_scratch_done(int slot) {
    scratch_set *ss = scratch_tls;
    if (ss && ss->n[slot] > CPU_SCRATCH_KEEP) {
        free(ss->p[slot]);
        ss->p[slot] = NULL;
        ss->n[slot] = 0;
    }
}

static int forced_level = -1, forced_variant = CPU_VAR_AUTO;

int cpu_kern_best_level(void) {
    unsigned f = hone_cpu_features();
    const unsigned need512 = HONE_CPU_AVX512F | HONE_CPU_AVX512BW | HONE_CPU_AVX512VL |
                             HONE_CPU_AVX512VNNI | HONE_CPU_FMA;
    if ((f & need512) == need512) return CPU_LVL_AVX512;
    if ((f & (HONE_CPU_AVX2 | HONE_CPU_FMA | HONE_CPU_F16C)) ==
        (HONE_CPU_AVX2 | HONE_CPU_FMA | HONE_CPU_F16C))
        return CPU_LVL_AVX2;
    return CPU_LVL_SCALAR;
}

void cpu_kern_force(int level, int variant) {
    int best = cpu_kern_best_level();
    __atomic_store_n(&forced_level, level > best ? best : level, __ATOMIC_RELAXED);
    __atomic_store_n(&forced_variant, variant, __ATOMIC_RELAXED);
}

int cpu_kern_level(void) {
    int l = __atomic_load_n(&forced_level, __ATOMIC_RELAXED);
    return l < 0 ? cpu_kern_best_level() : l;
}

int cpu_kern_variant(void) { return __atomic_load_n(&forced_variant, __ATOMIC_RELAXED); }

/* HONE_MATMUL, read once: CPU_VAR_* or CPU_VAR_AUTO if unset or unknown. */
static int env_variant(void) {
    static int v = -1;
    int r = __atomic_load_n(&v, __ATOMIC_RELAXED);
    if (r >= 0) return r;
    const char *e = getenv("HONE_MATMUL");
    r = !e ? CPU_VAR_AUTO
        : !strcmp(e, "int8") ? CPU_VAR_INT8
        : !strcmp(e, "int16") ? CPU_VAR_INT16
        : !strcmp(e, "f32") ? CPU_VAR_F32
                            : CPU_VAR_AUTO;
    __atomic_store_n(&v, r, __ATOMIC_RELAXED);
    return r;
}

/* The matmul variant for weight w at T tokens (CPU_VAR_*, never AUTO). */
static int pick_variant(const hone_weight *w, int64_t T, int level) {
    int var = cpu_kern_variant();
    int q = cpu_wdec_supported(w->type, NULL);
    if (var == CPU_VAR_AUTO) var = env_variant();
    if (var == CPU_VAR_AUTO) /* AVX2: int16 (vpmaddubsw) only streams one token's 2 rows; panels are F32 */
        var = q && (level != CPU_LVL_AVX2 || T == 1) ? CPU_VAR_INT16 : CPU_VAR_F32;
    return q ? var : CPU_VAR_F32;
}

static void kern_matmul(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                        hone_pool *pool) {
    if (T <= 0 || w->n_out <= 0) return;
    int level = cpu_kern_level(), var = pick_variant(w, T, level), q = var != CPU_VAR_F32;
    if (var == CPU_VAR_INT8 && q) cpu_matmul_int8(y, x, w, bias, T, pool, level);
    else if (var == CPU_VAR_INT16 && q) cpu_matmul_int16(y, x, w, bias, T, pool, level);
    else cpu_matmul_f32(y, x, w, bias, T, pool, level);
}

/* Several projections of one input (backend.h): at decode with AVX-512 and the
 * INT16 variant for all, the activations are quantized once and every row of
 * every weight is one pool job (cpu_matmul_int16_n); otherwise one matmul each. */
static void kern_matmul_n(float *const *ys, const float *x, const hone_weight *const *ws, const float *const *bs,
                          int n, int64_t T, hone_pool *pool) {
    int level = cpu_kern_level(), fused = level >= CPU_LVL_AVX512 && T > 0 && T < CPU_MATVEC_MAX_T && n > 0;
    int sub0 = 32;
    if (fused) cpu_wdec_supported(ws[0]->type, &sub0);
    for (int j = 0; j < n && fused; j++) {
        int sub = 32;
        cpu_wdec_supported(ws[j]->type, &sub);
        fused = pick_variant(ws[j], T, level) == CPU_VAR_INT16 && sub == sub0 && ws[j]->n_in == ws[0]->n_in &&
                ws[j]->n_out > 0;
    }
    if (fused) {
        cpu_matmul_int16_n(ys, x, ws, bs, n, T, pool, level);
        return;
    }
    for (int j = 0; j < n; j++) kern_matmul(ys[j], x, ws[j], bs ? bs[j] : NULL, T, pool);
}

static void kern_rmsnorm(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps) {
    cpu_rmsnorm(y, x, w, T, D, eps, cpu_kern_level());
}

static void kern_rope(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim,
                      int64_t rope_dim, const float *freqs, hone_rope_mode mode) {
    cpu_rope(x, pos, T, H, head_dim, rope_dim, freqs, mode, cpu_kern_level());
}

static void kern_attention(float *out, const float *q, const int32_t *qpos, int64_t T, const float *k,
                           const float *v, const int32_t *kpos, int64_t n_keys,
                           const hone_attn_params *p, hone_pool *pool) {
    cpu_attention(out, q, qpos, T, k, v, kpos, n_keys, p, pool, cpu_kern_level());
}

static void kern_glu(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu) {
    cpu_glu(y, gate, up, T, D, gelu, cpu_kern_level());
}

static void kern_matmul_bwd(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *pool) {
    cpu_matmul_bwd(dx, dy, w, T, pool, cpu_kern_level());
}

static void kern_lm_head_ce(double *loss, int64_t *n_counted, float *dh, const float *h, const hone_weight *w,
                            const int32_t *target, const uint8_t *mask, int64_t T, float softcap, float dscale,
                            hone_pool *pool) {
    cpu_lm_head_ce(loss, n_counted, dh, h, w, target, mask, T, softcap, dscale, pool, cpu_kern_level());
}

static void kern_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                               const int32_t *qpos, int64_t T, const float *k, const float *v, const int32_t *kpos,
                               int64_t n_keys, const hone_attn_params *p, hone_pool *pool) {
    cpu_attention_bwd(dq, dk, dv, dout, q, qpos, T, k, v, kpos, n_keys, p, pool, cpu_kern_level());
}

static void kern_glu_bwd(float *dgate, float *dup, const float *dy, const float *gate, const float *up, int64_t T,
                         int64_t D, int gelu) {
    cpu_glu_bwd(dgate, dup, dy, gate, up, T, D, gelu, cpu_kern_level());
}

/* Backward entries left NULL are filled from the reference. */
static const hone_backend cpu_kernels = {
    .name = "cpu",
    .matmul = kern_matmul,
    .matmul_n = kern_matmul_n,
    .matmul_bwd = kern_matmul_bwd,
    .lm_head_ce = kern_lm_head_ce,
    .attention_bwd = kern_attention_bwd,
    .glu_bwd = kern_glu_bwd,
    .rmsnorm = kern_rmsnorm,
    .rope = kern_rope,
    .attention = kern_attention,
    .glu = kern_glu,
};

const hone_backend *hone_cpu_kernels(void) { return &cpu_kernels; }
