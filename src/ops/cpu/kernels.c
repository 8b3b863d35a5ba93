/* kernels.c: PLACEHOLDER for the fast CPU kernels. This file is replaced by the
 * fast-kernel branch (engkern); here every entry is NULL, so hone_backend_cpu()
 * runs the reference ops everywhere. hone_cpu_kernels() is declared in
 * ops/backend.h. */
#include "ops/backend.h"

static const hone_backend KERNELS = {.name = "cpu (reference fallback)"};

const hone_backend *hone_cpu_kernels(void) { return &KERNELS; }
