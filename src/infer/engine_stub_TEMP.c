/* engine_stub_TEMP.c: TEMPORARY weak stand-ins for the engine API (hone/engine.h)
 * so that the CLI links on the engcli branch before the engine branch is merged.
 * Every function fails with HONE_EUNSUPPORTED. Weak: the real definitions win.
 * DELETE this file when the engine lands in main. */
#include "hone.h"
#include "util/err.h"

#define WEAK __attribute__((weak))

WEAK int hone_model_load(hone_model **out, const char *path, const hone_load_opts *opts,
                         hone_err *err) {
    *out = NULL;
    return hone_err_set(err, HONE_EUNSUPPORTED, "%s: the inference engine is not built in yet", path);
}
WEAK void hone_model_free(hone_model *m) {}
WEAK const hone_model_desc *hone_model_get_desc(const hone_model *m) { return NULL; }
WEAK hone_tok *hone_model_get_tokenizer(const hone_model *m) { return NULL; }
WEAK int hone_session_init(hone_session **out, hone_model *m, const hone_session_opts *opts,
                           hone_err *err) {
    *out = NULL;
    return hone_err_set(err, HONE_EUNSUPPORTED, "the inference engine is not built in yet");
}
WEAK void hone_session_free(hone_session *s) {}
WEAK int hone_session_eval(hone_session *s, const int32_t *tokens, uint32_t n, hone_eval_out *out,
                           hone_err *err) {
    return hone_err_set(err, HONE_EUNSUPPORTED, "the inference engine is not built in yet");
}
WEAK uint32_t hone_session_pos(const hone_session *s) { return 0; }
WEAK int hone_session_truncate(hone_session *s, uint32_t pos, hone_err *err) {
    return hone_err_set(err, HONE_EUNSUPPORTED, "the inference engine is not built in yet");
}
