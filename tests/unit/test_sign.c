/* test_sign.c: kernel signing modes (hone/sign.h) against the layouts written out by
 * hand from the header's specification (exact bytes: the A/B harness and training
 * sets depend on them). */
#include "testutil.h"

static void check(hone_sign_mode mode, const char *kernel, const char *kb, const char *rem,
                  const char *system, const char *prompt, const char *want_sys,
                  const char *want_user) {
    hone_sign s = {mode, kernel, kb, rem};
    hone_err err = {0};
    char *so, *uo;
    ASSERT_OK(hone_sign_apply(&s, system, prompt, &so, &uo, &err), &err);
    if (want_sys) {
        assert_non_null(so);
        assert_string_equal(so, want_sys);
    } else {
        assert_null(so);
    }
    assert_string_equal(uo, want_user);
    free(so);
    free(uo);
}

static void test_modes(void **state) {
    const char *K = "Be kind.\n", *P = "What is 2+2?";
    check(HONE_SIGN_NONE, K, NULL, NULL, NULL, P, NULL, "What is 2+2?");
    check(HONE_SIGN_NONE, NULL, NULL, NULL, "Sys", P, "Sys", "What is 2+2?");
    check(HONE_SIGN_SYSTEM, K, NULL, NULL, NULL, P, "Be kind.", "What is 2+2?");
    check(HONE_SIGN_SYSTEM, K, NULL, NULL, "Answer briefly.", P, "Be kind.\n\nAnswer briefly.",
          "What is 2+2?");
    check(HONE_SIGN_PREFIX, K, NULL, NULL, NULL, P, NULL, "Be kind.\n\n---\n\nWhat is 2+2?");
    /* the prompt keeps its trailing whitespace unless a separator follows it */
    check(HONE_SIGN_PREFIX, K, NULL, NULL, "S", "What is 2+2?\r\n", "S",
          "Be kind.\n\n---\n\nWhat is 2+2?\r\n");
    check(HONE_SIGN_NONE, NULL, NULL, NULL, NULL, "code {\n", NULL, "code {\n");
    check(HONE_SIGN_SYSTEM, K, NULL, NULL, NULL, "x \n", "Be kind.", "x \n");
    check(HONE_SIGN_POSTFIX, K, NULL, NULL, NULL, "x \n", NULL, "x\n\n---\n\nBe kind.");
    check(HONE_SIGN_SANDWICH, K, NULL, NULL, NULL, "x \n", NULL,
          "Be kind.\n\n---\n\nx\n\n---\n\nBe kind.");
    check(HONE_SIGN_POSTFIX, K, NULL, NULL, NULL, P, NULL, "What is 2+2?\n\n---\n\nBe kind.");
    check(HONE_SIGN_SANDWICH, K, NULL, NULL, NULL, P, NULL,
          "Be kind.\n\n---\n\nWhat is 2+2?\n\n---\n\nBe kind.");
    check(HONE_SIGN_SANDWICH, K, "Stay kind. \n\n", "Remember the charter.\n", "", P, NULL,
          "Be kind.\n\n---\n\nWhat is 2+2?\n\n---\n\nStay kind.\n\nRemember the charter.");
    /* leading whitespace and inner newlines are kept */
    check(HONE_SIGN_PREFIX, "  a\n\nb", NULL, NULL, NULL, "\nq", NULL, "  a\n\nb\n\n---\n\n\nq");
}

static void test_errors_and_names(void **state) {
    hone_err err = {0};
    char *so, *uo;
    hone_sign s = {HONE_SIGN_PREFIX, NULL, NULL, NULL};
    assert_int_equal(hone_sign_apply(&s, NULL, "p", &so, &uo, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "prefix needs a kernel"));
    hone_sign s2 = {HONE_SIGN_POSTFIX, "k", NULL, "rem"};
    assert_int_equal(hone_sign_apply(&s2, NULL, "p", &so, &uo, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "sandwich"));
    hone_sign_mode m;
    const char *names[] = {"none", "system", "prefix", "postfix", "sandwich"};
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(hone_sign_mode_parse(names[i], &m, &err), &err);
        assert_int_equal(m, i);
        assert_string_equal(hone_sign_mode_name(m), names[i]);
    }
    assert_int_equal(hone_sign_mode_parse("signed", &m, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "'signed'"));
    assert_null(hone_sign_mode_name((hone_sign_mode)9));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_errors_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
