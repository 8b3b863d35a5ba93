/* cpu.h: run-time CPU feature detection, so one binary picks AVX-512 BF16/VNNI
 * kernels where the CPU (and the OS, via XGETBV) supports them and falls back to
 * AVX2 or plain C elsewhere. Public part: hone_cpu_features() in hone.h. */
#ifndef HONE_UTIL_CPU_H
#define HONE_UTIL_CPU_H

#include "hone.h"

#endif
