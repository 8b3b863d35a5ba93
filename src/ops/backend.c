/* backend.c: hone_backend_cpu(), the fast CPU kernel table (src/ops/cpu/,
 * hone_cpu_kernels()) with every entry it leaves NULL taken from the reference
 * backend. Built once (pthread_once), then read-only. */
#include <pthread.h>

#include "ops/backend.h"

static hone_backend cpu_table;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_table_init(void) {
    const hone_backend *ref = hone_backend_ref();
    const hone_backend *k = hone_cpu_kernels();
    cpu_table = *k;
#define FILL(f) \
    if (!cpu_table.f) cpu_table.f = ref->f
    FILL(matmul);
    FILL(matmul_bwd);
    FILL(rmsnorm);
    FILL(rmsnorm_bwd);
    FILL(rope);
    FILL(rope_bwd);
    FILL(attention);
    FILL(attention_bwd);
    FILL(glu);
    FILL(glu_bwd);
    FILL(lora_linear);
    FILL(lora_linear_bwd);
    FILL(lm_head_ce);
    FILL(matmul_n);
#undef FILL
    if (!cpu_table.name) cpu_table.name = ref->name;
}

const hone_backend *hone_backend_cpu(void) {
    pthread_once(&cpu_once, cpu_table_init);
    return &cpu_table;
}
