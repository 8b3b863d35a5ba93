/* train_lora.c: the adapter path of an adapted linear in training,
 *   y += scale * (drop(x) A^T) B^T,   A (r, n_in), B (n_out, r),
 * and its backward, with u = drop(x) A^T (T, r) and g = dy B (T, r):
 *   dB += scale dy^T u,   dA += scale g^T drop(x),   dx += drop'(scale g A).
 * Dropout is inverted dropout on the adapter's input only (PEFT's lora_dropout,
 * mlx-lm's LoRALinear): drop(x)_tj = x_tj * keep_tj / (1 - p). keep is a pure
 * function of (batch seed, sequence index in the batch, layer, projection,
 * position, feature): a splitmix64 hash, kept iff its top 24 bits / 2^24 >= p.
 * The backward recomputes the mask and u instead of saving them.
 *
 * Threads: every loop is split so that each task owns its output rows (tokens
 * for u, g, y, dx; rows of dB; column blocks of dA) and sums in a fixed order,
 * so results do not depend on the thread count.
 */
#include <string.h>

#include "train/train_internal.h"

static inline uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct lctx {
    hone_trainer *t;
    const tr_lora *l;
    const tr_batch *b;
    float *y, *dx;
    const float *x, *dy;
    const float *xa; /* x or the dropped-out copy */
} lctx;

#define TOK_BLOCK 16

/* 16-lane f32 dot product (lane l sums i == l mod 16 in order, then a fixed pairwise
 * sum); GCC/clang vector extensions, so it vectorizes without reassociation. */
typedef float v16f __attribute__((vector_size(64), aligned(4)));

static inline __attribute__((always_inline)) float dot8(const float *a, const float *b, int64_t n) {
    v16f acc = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc += *(const v16f *)(const void *)(a + i) * *(const v16f *)(const void *)(b + i);
    float l[16];
    memcpy(l, &acc, sizeof l);
    for (int j = 0; i < n; i++, j++) l[j] += a[i] * b[i];
    for (int w = 8; w; w >>= 1)
        for (int j = 0; j < w; j++) l[j] += l[j + w];
    return l[0];
}

/* y += a x, 16 lanes at a time (the tail in order after) */
static inline __attribute__((always_inline)) void axpy(float *restrict y, float a, const float *restrict x, int64_t n) {
    v16f av = (v16f){0} + a;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) *(v16f *)(void *)(y + i) += av * *(const v16f *)(const void *)(x + i);
    for (; i < n; i++) y[i] += a * x[i];
}

/* drop(x) rows of one token block into t->xd. */
static inline __attribute__((always_inline)) void drop_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    const tr_lora *l = c->l;
    float p = c->t->dropout, inv = 1.0f / (1.0f - p);
    int64_t n = l->n_in, t0 = ib * TOK_BLOCK, t1 = t0 + TOK_BLOCK < c->b->T ? t0 + TOK_BLOCK : c->b->T;
    for (int64_t r = t0; r < t1; r++) {
        uint64_t hs = mix64(c->b->seed ^ mix64(((uint64_t)(uint32_t)c->b->rseq[r] << 32) ^
                                               ((uint64_t)l->layer << 8) ^ (uint64_t)l->proj));
        hs = mix64(hs ^ (uint64_t)(uint32_t)c->b->pos[r]);
        const float *xr = c->x + r * n;
        float *o = c->t->xd + r * n;
        for (int64_t j = 0; j < n; j++) {
            float u = (float)(mix64(hs + (uint64_t)j) >> 40) * 0x1p-24f;
            o[j] = u >= p ? xr[j] * inv : 0.0f;
        }
    }
}

/* u = xa A^T and y += scale u B^T for a token block. */
static inline __attribute__((always_inline)) void fwd_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    const tr_lora *l = c->l;
    int64_t r = l->rank, ni = l->n_in, no = l->n_out;
    int64_t t0 = ib * TOK_BLOCK, t1 = t0 + TOK_BLOCK < c->b->T ? t0 + TOK_BLOCK : c->b->T;
    float sc = c->t->scale;
    for (int64_t tt = t0; tt < t1; tt++) {
        float *u = c->t->u + tt * r;
        for (int64_t k = 0; k < r; k++) u[k] = dot8(c->xa + tt * ni, l->src->a + k * ni, ni);
        float *yr = c->y + tt * no;
        for (int64_t k = 0; k < r; k++) axpy(yr, sc * u[k], l->bt + k * no, no);
    }
}

/* u = xa A^T, g = dy B for a token block; then the adapter's dx. */
static inline __attribute__((always_inline)) void ug_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    const tr_lora *l = c->l;
    int64_t r = l->rank, ni = l->n_in, no = l->n_out;
    int64_t t0 = ib * TOK_BLOCK, t1 = t0 + TOK_BLOCK < c->b->T ? t0 + TOK_BLOCK : c->b->T;
    for (int64_t tt = t0; tt < t1; tt++) {
        float *u = c->t->u + tt * r, *g = c->t->ug + tt * r;
        for (int64_t k = 0; k < r; k++) u[k] = dot8(c->xa + tt * ni, l->src->a + k * ni, ni);
        for (int64_t k = 0; k < r; k++) g[k] = dot8(c->dy + tt * no, l->bt + k * no, no);
    }
}

/* dx rows of a token block: dx += drop'(scale g A). */
static inline __attribute__((always_inline)) void dx_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    hone_trainer *t = c->t;
    const tr_lora *l = c->l;
    int64_t r = l->rank, ni = l->n_in;
    int64_t t0 = ib * TOK_BLOCK, t1 = t0 + TOK_BLOCK < c->b->T ? t0 + TOK_BLOCK : c->b->T;
    float sc = t->scale, p = t->dropout, inv = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    for (int64_t tt = t0; tt < t1; tt++) {
        float *d = c->dx + tt * ni;
        const float *g = t->ug + tt * r;
        if (p <= 0) {
            for (int64_t k = 0; k < r; k++) axpy(d, sc * g[k], l->src->a + k * ni, ni);
            continue;
        }
        /* keep_tj = (xd_tj != 0 or x_tj == 0 ...): recompute the mask from the hash */
        uint64_t hs = mix64(c->b->seed ^ mix64(((uint64_t)(uint32_t)c->b->rseq[tt] << 32) ^
                                               ((uint64_t)l->layer << 8) ^ (uint64_t)l->proj));
        hs = mix64(hs ^ (uint64_t)(uint32_t)c->b->pos[tt]);
        for (int64_t j = 0; j < ni; j++) {
            float u = (float)(mix64(hs + (uint64_t)j) >> 40) * 0x1p-24f;
            if (u < p) continue;
            float acc = 0;
            for (int64_t k = 0; k < r; k++) acc += sc * g[k] * l->src->a[k * ni + j];
            d[j] += acc * inv;
        }
    }
}

#define COL_BLOCK 128

/* dA columns [j0, j1): dA[k][j] += scale sum_t g[t][k] xa[t][j], t in order. */
static inline __attribute__((always_inline)) void da_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    const tr_lora *l = c->l;
    int64_t r = l->rank, ni = l->n_in, T = c->b->T;
    int64_t j0 = ib * COL_BLOCK, j1 = j0 + COL_BLOCK < ni ? j0 + COL_BLOCK : ni;
    float sc = c->t->scale;
    for (int64_t k = 0; k < r; k++) {
        float *da = l->da + k * ni;
        for (int64_t tt = 0; tt < T; tt++) axpy(da + j0, sc * c->t->ug[tt * r + k], c->xa + tt * ni + j0, j1 - j0);
    }
}

/* dB^T columns [o0, o1): dBT[k][o] = scale sum_t u[t][k] dy[t][o], t in order,
 * then added into dB (n_out, r). */
static inline __attribute__((always_inline)) void db_task_body(void *vc, int64_t ib, int tid) {
    (void)tid;
    lctx *c = vc;
    const tr_lora *l = c->l;
    int64_t r = l->rank, no = l->n_out, T = c->b->T;
    int64_t o0 = ib * COL_BLOCK, o1 = o0 + COL_BLOCK < no ? o0 + COL_BLOCK : no;
    float sc = c->t->scale, *dbt = c->t->dbt;
    for (int64_t k = 0; k < r; k++) {
        float *row = dbt + k * no;
        memset(row + o0, 0, (size_t)(o1 - o0) * sizeof *row);
        for (int64_t tt = 0; tt < T; tt++) axpy(row + o0, sc * c->t->u[tt * r + k], c->dy + tt * no + o0, o1 - o0);
    }
    for (int64_t o = o0; o < o1; o++)
        for (int64_t k = 0; k < r; k++) l->db_acc[o * r + k] += dbt[k * no + o];
}


/* Each task in two builds: AVX-512 (+FMA) and the baseline; picked once per process
 * from the CPU features (the library is compiled for baseline x86-64). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TASK_PAIR(name)                                                                                   \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))) static void name##_512(void *vc, int64_t ib, \
                                                                                          int tid) {     \
        name##_body(vc, ib, tid);                                                                         \
    }                                                                                                     \
    static void name##_gen(void *vc, int64_t ib, int tid) { name##_body(vc, ib, tid); }                   \
    static hone_pool_fn name##_pick(void) {                                                               \
        const unsigned need = HONE_CPU_AVX512F | HONE_CPU_AVX512VL | HONE_CPU_AVX512BW | HONE_CPU_FMA;    \
        return (hone_cpu_features() & need) == need ? name##_512 : name##_gen;                            \
    }
#else
#define TASK_PAIR(name)                                                                                   \
    static void name##_gen(void *vc, int64_t ib, int tid) { name##_body(vc, ib, tid); }                   \
    static hone_pool_fn name##_pick(void) { return name##_gen; }
#endif
TASK_PAIR(drop_task)
TASK_PAIR(fwd_task)
TASK_PAIR(ug_task)
TASK_PAIR(dx_task)
TASK_PAIR(da_task)
TASK_PAIR(db_task)

static const float *dropped(lctx *c) {
    if (c->t->dropout <= 0.0f) return c->x;
    hone_pool_run(c->t->pool, (c->b->T + TOK_BLOCK - 1) / TOK_BLOCK, drop_task_pick(), c);
    return c->t->xd;
}

void tr_lora_forward(hone_trainer *t, const tr_lora *l, float *y, const float *x, const tr_batch *b) {
    lctx c = {.t = t, .l = l, .b = b, .y = y, .x = x};
    c.xa = dropped(&c);
    hone_pool_run(t->pool, (b->T + TOK_BLOCK - 1) / TOK_BLOCK, fwd_task_pick(), &c);
}

void tr_lora_backward(hone_trainer *t, const tr_lora *l, float *dx, const float *dy, const float *x,
                      const tr_batch *b) {
    lctx c = {.t = t, .l = l, .b = b, .dx = dx, .x = x, .dy = dy};
    c.xa = dropped(&c);
    int64_t nt = (b->T + TOK_BLOCK - 1) / TOK_BLOCK;
    hone_pool_run(t->pool, nt, ug_task_pick(), &c);
    if (dx) hone_pool_run(t->pool, nt, dx_task_pick(), &c);
    hone_pool_run(t->pool, (l->n_in + COL_BLOCK - 1) / COL_BLOCK, da_task_pick(), &c);
    hone_pool_run(t->pool, (l->n_out + COL_BLOCK - 1) / COL_BLOCK, db_task_pick(), &c);
}
