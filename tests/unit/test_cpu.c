/* test_cpu.c: run-time feature detection agrees with the kernel's view
 * (/proc/cpuinfo "flags"), the reference for what this CPU and OS support. */
#include "testutil.h"

static void test_features_match_proc_cpuinfo(void **state) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) {
        print_message("[ SKIPPED  ] no /proc/cpuinfo\n");
        skip();
    }
    static char line[1 << 16];
    char *flags = NULL;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            flags = strchr(line, ':');
            break;
        }
    fclose(f);
    if (!flags) skip();
    char buf[256];
    unsigned feat = hone_cpu_features();
    assert_int_equal(hone_cpu_features_str(feat, buf, sizeof buf), HONE_OK);
    static const char *names[] = {"avx2", "fma", "f16c", "avx512f", "avx512bw",
                                  "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni"};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", names[i]);
        /* flags line: ": a b c\n" -> make word matches exact */
        char *nl = strchr(flags, '\n');
        if (nl) *nl = ' ';
        int in_proc = strstr(flags, pat) != NULL;
        int in_hone = (feat >> i) & 1;
        if (in_proc != in_hone)
            fail_msg("%s: /proc/cpuinfo says %d, hone says %d", names[i], in_proc, in_hone);
    }
    print_message("cpu features: %s\n", buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_features_match_proc_cpuinfo)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
