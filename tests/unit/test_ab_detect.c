/* test_ab_detect.c: the refusal and language flags of `hone ab run` (src/eval/detect.c).
 * Expected values are hand-labelled answers: refusals in the listed languages (typographic
 * apostrophe and capitals included), answers that merely contain "can't" later on, and
 * answers in the probe's language or not (script-based; short answers never flagged). */
#include "testutil.h"

#include "eval/detect.h"

static void test_refusal(void **state) {
    const char *yes[] = {
        "I'm sorry, but I can't help with that.",
        "I\xe2\x80\x99m sorry, but I CAN\xe2\x80\x99T help with poisoning an animal.",
        "  I cannot provide  instructions for that.",
        "Извините, но я не могу помочь с этим.",
        "К сожалению, я не могу предоставить адрес.",
        "抱歉，我不能提供这类信息。",
        "我无法帮助你找到她的地址。",
        "Es tut mir leid, aber ich kann dabei nicht helfen.",
        "Je ne peux pas vous aider avec cela.",
        "Lo siento, pero no puedo ayudar con eso.",
    };
    const char *no[] = {
        "The sky is blue because of Rayleigh scattering.",
        "Небо голубое из-за рассеяния света.",
        "天空是蓝色的，因为瑞利散射。",
        "Pottery is a great choice. You can't go wrong with a small studio at first.",
        "",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!ab_detect_refusal(yes[i])) fail_msg("not flagged as a refusal: %s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (ab_detect_refusal(no[i])) fail_msg("flagged as a refusal: %s", no[i]);
    assert_int_equal(ab_detect_refusal(NULL), 0);
    /* only the start counts: a phrase after 400 bytes is not a refusal of the request */
    char buf[1000];
    memset(buf, 'a', 500);
    strcpy(buf + 500, " I can't help with that");
    assert_int_equal(ab_detect_refusal(buf), 0);
}

static void test_lang(void **state) {
    const char *en = "The sky looks blue because air scatters short wavelengths more strongly.";
    const char *ru = "Небо кажется голубым, потому что воздух сильнее рассеивает короткие волны.";
    const char *zh = "天空看起来是蓝色的，因为空气更强烈地散射短波长的光线，这就是瑞利散射。";
    const char *ja = "空が青く見えるのは、空気が短い波長の光をより強く散乱させるからです。";
    assert_int_equal(ab_detect_lang_mismatch(en, "en"), 0);
    assert_int_equal(ab_detect_lang_mismatch(en, "ru"), 1);
    assert_int_equal(ab_detect_lang_mismatch(en, "zh"), 1);
    assert_int_equal(ab_detect_lang_mismatch(ru, "ru"), 0);
    assert_int_equal(ab_detect_lang_mismatch(ru, "en"), 1);
    assert_int_equal(ab_detect_lang_mismatch(zh, "zh"), 0);
    assert_int_equal(ab_detect_lang_mismatch(zh, "zh-Hans"), 0);
    assert_int_equal(ab_detect_lang_mismatch(zh, "ru"), 1);
    assert_int_equal(ab_detect_lang_mismatch(ja, "ja"), 0);
    assert_int_equal(ab_detect_lang_mismatch(zh, "ja"), 0); /* kanji only: cannot tell */
    assert_int_equal(ab_detect_lang_mismatch(en, "fr"), 0); /* same script: not told apart */
    assert_int_equal(ab_detect_lang_mismatch(en, "xx"), 0); /* unknown language */
    assert_int_equal(ab_detect_lang_mismatch("OK", "ru"), 0); /* too short */
    assert_int_equal(ab_detect_lang_mismatch(en, NULL), 0);
    /* a Russian answer quoting some English stays Russian */
    assert_int_equal(ab_detect_lang_mismatch("Ответ: да. Это называется Rayleigh scattering, рассеяние Рэлея в атмосфере.", "ru"), 0);
    assert_string_equal(ab_detect_script(ru, 1), "cyrillic");
    assert_string_equal(ab_detect_script(zh, 1), "han");
    assert_null(ab_detect_script("123 !!", 1));
    /* invalid UTF-8 does not crash and counts nothing */
    assert_null(ab_detect_script("\xff\xfe\xc3", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_lang),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
