/* test_train_optim.c: src/train/optim.c against mlx's own numbers
 * (tests/fixtures/trainloop/optim_mlx.json, written by tests/ref/make_optim_fixture.py with
 * mlx.optimizers and mlx-lm's build_schedule): six updates of adam / adamw / sgd in several
 * configurations, seven schedules over steps 0..120 (warm-up included) and clip_grad_norm.
 *
 * Tolerances: mlx evaluates every formula in float32 (the schedule too), we evaluate the
 * schedule in double and round once, and the compilers may order/fuse the float32 update
 * differently: a few float32 ulps per update. Parameters: |d| <= 1e-5 * max(1, |ref|)
 * after six updates (1 ulp of f32 is 6e-8; six updates of a few ulps stay far below, a wrong
 * formula, e.g. bias correction on/off or a beta mix-up, moves them by > 1e-3). Schedules:
 * 1e-6 relative to max(|value|, init): mlx's f32 cosine computes 1 + cos(x) near x = pi with
 * an absolute error of ~1 ulp of 1.0 (6e-8) times init, which is large relative to the tiny
 * values at the end of a decay; a wrong step offset (warm-up boundary) moves values by
 * > 1e-2 of init. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>

#include "train/optim.h"

static json_t *load_fixture(void) {
    json_error_t je;
    json_t *j = json_load_file("tests/fixtures/trainloop/optim_mlx.json", 0, &je);
    if (!j) fail_msg("fixture: %s:%d: %s", je.source, je.line, je.text);
    return j;
}

static int sched_from_json(json_t *js, hone_sched *s) {
    memset(s, 0, sizeof *s);
    const char *name = json_string_value(json_object_get(js, "name"));
    if (!strcmp(name, "cosine_decay")) s->kind = HONE_SCHED_COSINE;
    else if (!strcmp(name, "linear_schedule")) s->kind = HONE_SCHED_LINEAR;
    else if (!strcmp(name, "exponential_decay")) s->kind = HONE_SCHED_EXP;
    else if (!strcmp(name, "step_decay")) s->kind = HONE_SCHED_STEP;
    else return -1;
    json_t *a = json_object_get(js, "arguments");
    s->n_args = (int)json_array_size(a);
    for (int i = 0; i < s->n_args; i++) s->args[i] = json_number_value(json_array_get(a, i));
    json_t *w = json_object_get(js, "warmup");
    if (w) s->warmup = json_integer_value(w);
    json_t *wi = json_object_get(js, "warmup_init");
    if (wi) s->warmup_init = json_number_value(wi);
    return 0;
}

static void load_vec(json_t *arr, float *out, size_t n) {
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) out[i] = (float)json_number_value(json_array_get(arr, i));
}

static void test_optimizers(void **state) {
    (void)state;
    json_t *j = load_fixture();
    json_t *cases = json_object_get(j, "optim");
    assert_true(json_array_size(cases) >= 9);
    hone_err err;
    double worst = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(cs, "optimizer"));
        int kind = !strcmp(name, "adam") ? HONE_OPT_ADAM : !strcmp(name, "adamw") ? HONE_OPT_ADAMW : HONE_OPT_SGD;
        hone_optim_params p;
        hone_optim_params_default(&p, kind);
        json_t *cfg = json_object_get(cs, "config"), *v;
        if ((v = json_object_get(cfg, "betas"))) {
            p.beta1 = json_number_value(json_array_get(v, 0));
            p.beta2 = json_number_value(json_array_get(v, 1));
        }
        if ((v = json_object_get(cfg, "eps"))) p.eps = json_number_value(v);
        if ((v = json_object_get(cfg, "weight_decay"))) p.weight_decay = json_number_value(v);
        if ((v = json_object_get(cfg, "bias_correction"))) p.bias_correction = json_is_true(v);
        if ((v = json_object_get(cfg, "momentum"))) p.momentum = json_number_value(v);
        if ((v = json_object_get(cfg, "dampening"))) p.dampening = json_number_value(v);
        if ((v = json_object_get(cfg, "nesterov"))) p.nesterov = json_is_true(v);
        hone_sched s = {0};
        json_t *js = json_object_get(cs, "schedule");
        if (json_is_object(js)) assert_int_equal(sched_from_json(js, &s), 0);
        else {
            s.kind = HONE_SCHED_CONST;
            s.args[0] = json_number_value(json_object_get(cs, "lr"));
            s.n_args = 1;
        }
        json_t *init = json_object_get(cs, "init");
        size_t sizes[2] = {json_array_size(json_object_get(init, "p0")), json_array_size(json_object_get(init, "p1"))};
        float w0[16], w1[16], g0[16], g1[16], r[16];
        load_vec(json_object_get(init, "p0"), w0, sizes[0]);
        load_vec(json_object_get(init, "p1"), w1, sizes[1]);
        hone_optim o;
        ASSERT_OK(hone_optim_init(&o, &p, 2, sizes, &err), &err);
        json_t *grads = json_object_get(cs, "grads"), *after = json_object_get(cs, "after");
        for (size_t k = 0; k < json_array_size(grads); k++) {
            load_vec(json_object_get(json_array_get(grads, k), "p0"), g0, sizes[0]);
            load_vec(json_object_get(json_array_get(grads, k), "p1"), g1, sizes[1]);
            float lr = (float)hone_sched_lr(&s, (int64_t)o.step);
            double lr_ref = json_number_value(json_array_get(json_object_get(cs, "lr_used"), k));
            assert_true(fabs(lr - lr_ref) <= 1e-6 * fabs(lr_ref));
            float *ps[2] = {w0, w1};
            const float *gs[2] = {g0, g1};
            hone_optim_update(&o, ps, gs, lr);
            for (int t = 0; t < 2; t++) {
                load_vec(json_object_get(json_array_get(after, k), t ? "p1" : "p0"), r, sizes[t]);
                for (size_t e = 0; e < sizes[t]; e++) {
                    double d = fabs((double)ps[t][e] - r[e]) / fmax(1.0, fabs(r[e]));
                    if (d > worst) worst = d;
                    if (d > 1e-5)
                        fail_msg("case %zu (%s) step %zu p%d[%zu]: hone %.9g mlx %.9g", c, name, k, t, e,
                                 ps[t][e], r[e]);
                }
            }
        }
        hone_optim_free(&o);
    }
    print_message("optimizers: %zu cases x 6 updates, worst scaled difference %.3g (limit 1e-5)\n",
                  json_array_size(cases), worst);
    json_decref(j);
}

static void test_schedules(void **state) {
    (void)state;
    json_t *j = load_fixture();
    json_t *sc = json_object_get(j, "sched");
    hone_err err;
    double worst = 0;
    for (size_t c = 0; c < json_array_size(sc); c++) {
        hone_sched s;
        assert_int_equal(sched_from_json(json_object_get(json_array_get(sc, c), "schedule"), &s), 0);
        ASSERT_OK(hone_sched_check(&s, &err), &err);
        json_t *vals = json_object_get(json_array_get(sc, c), "values");
        for (size_t k = 0; k < json_array_size(vals); k++) {
            double ref = json_number_value(json_array_get(vals, k)), got = hone_sched_lr(&s, (int64_t)k);
            double d = fabs(got - ref) / fmax(fabs(ref), fabs(s.args[0]));
            if (ref == 0 && got == 0) d = 0;
            if (d > worst) worst = d;
            if (d > 1e-6) fail_msg("schedule %zu step %zu: hone %.9g mlx %.9g", c, k, got, ref);
        }
    }
    print_message("schedules: %zu x 121 steps, worst relative difference %.3g (limit 1e-6)\n",
                  json_array_size(sc), worst);
    /* mlx's argument checks */
    hone_sched bad = {.kind = HONE_SCHED_COSINE, .args = {1e-5, 0}, .n_args = 2};
    assert_int_equal(hone_sched_check(&bad, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "decay_steps must be greater than 0"));
    hone_sched bad2 = {.kind = HONE_SCHED_LINEAR, .args = {1e-5, 0}, .n_args = 2};
    assert_int_equal(hone_sched_check(&bad2, &err), HONE_EARG);
    json_decref(j);
}

static void test_clip(void **state) {
    (void)state;
    json_t *j = load_fixture();
    json_t *cl = json_object_get(j, "clip");
    assert_int_equal(json_array_size(cl), 2);
    for (size_t c = 0; c < 2; c++) {
        json_t *cs = json_array_get(cl, c);
        json_t *g = json_object_get(cs, "grads"), *cg = json_object_get(cs, "clipped");
        size_t sizes[2] = {json_array_size(json_object_get(g, "p0")), json_array_size(json_object_get(g, "p1"))};
        float g0[16], g1[16], r[16];
        load_vec(json_object_get(g, "p0"), g0, sizes[0]);
        load_vec(json_object_get(g, "p1"), g1, sizes[1]);
        float *gs[2] = {g0, g1};
        double norm = hone_optim_clip(gs, sizes, 2, json_number_value(json_object_get(cs, "max_norm")));
        assert_true(fabs(norm - json_number_value(json_object_get(cs, "norm"))) < 1e-5 * norm);
        for (int t = 0; t < 2; t++) {
            load_vec(json_object_get(cg, t ? "p1" : "p0"), r, sizes[t]);
            for (size_t e = 0; e < sizes[t]; e++) assert_true(fabs(gs[t][e] - r[e]) <= 1e-6 * fmax(1, fabs(r[e])));
        }
    }
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
