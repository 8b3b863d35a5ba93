/* test_train_config.c: `hone train`'s configuration (src/train/config.c):
 *  - the defaults equal mlx-lm's CONFIG_DEFAULTS and mlx's optimizer defaults, both read
 *    from tests/fixtures/trainloop/optim_mlx.json (written by tests/ref/make_optim_fixture.py
 *    from the installed mlx-lm), exactly;
 *  - a YAML file with mlx-lm's keys sets every field; a null leaves the default;
 *  - unknown / duplicate keys, wrong types, mlx-lm's 'alpha' pitfall, bad schedules and
 *    unsupported fine-tune types fail with FILE:LINE: key and what was expected. */
#include "testutil.h"

#include <jansson.h>

#include "hone/trainloop.h"

static void test_defaults_match_mlx(void **state) {
    (void)state;
    json_error_t je;
    json_t *j = json_load_file("tests/fixtures/trainloop/optim_mlx.json", 0, &je);
    assert_non_null(j);
    json_t *d = json_object_get(j, "config_defaults"), *od = json_object_get(j, "optimizer_defaults");
    hone_train_config c;
    hone_train_config_default(&c);
#define I(key, field) assert_int_equal(json_integer_value(json_object_get(d, key)), c.field)
#define F(key, field) assert_true(json_number_value(json_object_get(d, key)) == c.field)
#define B(key, field) assert_int_equal(json_is_true(json_object_get(d, key)), c.field)
    I("num_layers", num_layers);
    I("batch_size", batch_size);
    I("iters", iters);
    I("val_batches", val_batches);
    F("learning_rate", learning_rate);
    I("steps_per_report", steps_per_report);
    I("steps_per_eval", steps_per_eval);
    I("save_every", save_every);
    I("test_batches", test_batches);
    I("max_seq_length", max_seq_length);
    I("grad_accumulation_steps", grad_accumulation_steps);
    I("seed", seed);
    B("grad_checkpoint", grad_checkpoint);
    B("mask_prompt", mask_prompt);
    B("test", test);
    assert_string_equal(json_string_value(json_object_get(d, "fine_tune_type")), c.fine_tune_type);
    assert_string_equal(json_string_value(json_object_get(d, "optimizer")), c.optimizer);
    assert_string_equal(json_string_value(json_object_get(d, "adapter_path")), c.adapter_path);
    json_t *lp = json_object_get(d, "lora_parameters");
    assert_int_equal(json_integer_value(json_object_get(lp, "rank")), c.lora_rank);
    assert_true(json_number_value(json_object_get(lp, "scale")) == c.lora_scale);
    assert_true(json_number_value(json_object_get(lp, "dropout")) == c.lora_dropout);
    const char *names[3] = {"adam", "adamw", "sgd"};
    for (int k = 0; k < 3; k++) {
        json_t *o = json_object_get(od, names[k]);
        json_t *betas = json_object_get(o, "betas");
        if (betas) {
            assert_true(json_number_value(json_array_get(betas, 0)) == c.opt[k].betas[0]);
            assert_true(json_number_value(json_array_get(betas, 1)) == c.opt[k].betas[1]);
            assert_true(json_number_value(json_object_get(o, "eps")) == c.opt[k].eps);
            assert_int_equal(json_is_true(json_object_get(o, "bias_correction")), c.opt[k].bias_correction);
        }
        json_t *wd = json_object_get(o, "weight_decay");
        assert_true((wd ? json_number_value(wd) : 0.0) == c.opt[k].weight_decay);
        if (k == 2) {
            assert_true(json_number_value(json_object_get(o, "momentum")) == c.opt[k].momentum);
            assert_true(json_number_value(json_object_get(o, "dampening")) == c.opt[k].dampening);
            assert_int_equal(json_is_true(json_object_get(o, "nesterov")), c.opt[k].nesterov);
        }
    }
    json_decref(j);
}

static const char FULL[] =
    "# an mlx-lm lora config\n"
    "model: models/gemma.gguf\n"
    "train: true\n"
    "fine_tune_type: lora\n"
    "optimizer: adamw\n"
    "optimizer_config:\n"
    "  adamw:\n"
    "    betas: [0.8, 0.95]\n"
    "    eps: 1e-6\n"
    "    weight_decay: 0.05\n"
    "    bias_correction: true\n"
    "  sgd: {momentum: 0.9, nesterov: true}\n"
    "data: data/\n"
    "seed: 42\n"
    "num_layers: 8\n"
    "batch_size: 2\n"
    "iters: 600\n"
    "val_batches: -1\n"
    "learning_rate: 2e-5\n"
    "steps_per_report: 5\n"
    "steps_per_eval: 50\n"
    "resume_adapter_file: null\n"
    "adapter_path: out/adapters\n"
    "save_every: 25\n"
    "test: false\n"
    "test_batches: 10\n"
    "max_seq_length: 512\n"
    "grad_checkpoint: true\n"
    "grad_accumulation_steps: 4\n"
    "mask_prompt: true\n"
    "lora_parameters:\n"
    "  keys: [self_attn.q_proj, self_attn.v_proj, mlp.down_proj]\n"
    "  rank: 16\n"
    "  scale: 10.0\n"
    "  dropout: 0.05\n"
    "lr_schedule:\n"
    "  name: cosine_decay\n"
    "  warmup: 100\n"
    "  warmup_init: 1e-7\n"
    "  arguments: [2e-5, 1000, 1e-7]\n"
    "report_to: null\n"
    "clear_cache_threshold: 0\n"
    "max_grad_norm: 1.0\n";

static void test_yaml_full(void **state) {
    (void)state;
    hone_train_config c;
    hone_err err;
    hone_train_config_default(&c);
    ASSERT_OK(hone_train_config_load_yaml_mem(&c, FULL, sizeof FULL - 1, "cfg.yaml", &err), &err);
    assert_string_equal(c.model, "models/gemma.gguf");
    assert_string_equal(c.optimizer, "adamw");
    assert_true(c.opt[1].betas[0] == 0.8 && c.opt[1].betas[1] == 0.95 && c.opt[1].eps == 1e-6);
    assert_true(c.opt[1].weight_decay == 0.05 && c.opt[1].bias_correction == 1);
    assert_true(c.opt[2].momentum == 0.9 && c.opt[2].nesterov == 1);
    assert_string_equal(c.data, "data/");
    assert_int_equal(c.seed, 42);
    assert_int_equal(c.num_layers, 8);
    assert_int_equal(c.batch_size, 2);
    assert_int_equal(c.iters, 600);
    assert_int_equal(c.val_batches, -1);
    assert_true(c.learning_rate == 2e-5);
    assert_int_equal(c.steps_per_report, 5);
    assert_int_equal(c.steps_per_eval, 50);
    assert_string_equal(c.resume_adapter_file, "");
    assert_string_equal(c.adapter_path, "out/adapters");
    assert_int_equal(c.save_every, 25);
    assert_int_equal(c.test_batches, 10);
    assert_int_equal(c.max_seq_length, 512);
    assert_int_equal(c.grad_checkpoint, 1);
    assert_int_equal(c.grad_accumulation_steps, 4);
    assert_int_equal(c.mask_prompt, 1);
    assert_int_equal(c.train, 1);
    assert_int_equal(c.lora_keys, (1u << HONE_PROJ_Q) | (1u << HONE_PROJ_V) | (1u << HONE_PROJ_DOWN));
    assert_int_equal(c.lora_rank, 16);
    assert_true(c.lora_scale == 10.0 && c.lora_dropout == 0.05);
    assert_string_equal(c.schedule_name, "cosine_decay");
    assert_int_equal(c.schedule_n_args, 3);
    assert_true(c.schedule_args[0] == 2e-5 && c.schedule_args[1] == 1000 && c.schedule_args[2] == 1e-7);
    assert_int_equal(c.warmup, 100);
    assert_true(c.warmup_init == 1e-7);
    assert_true(c.max_grad_norm == 1.0);
    ASSERT_OK(hone_train_config_check(&c, &err), &err);
}

static void expect_err(const char *yaml, const char *want1, const char *want2) {
    hone_train_config c;
    hone_err err = {0};
    hone_train_config_default(&c);
    int rc = hone_train_config_load_yaml_mem(&c, yaml, strlen(yaml), "bad.yaml", &err);
    if (rc == HONE_OK) {
        strcpy(c.model, "m");
        c.train = 1;
        rc = hone_train_config_check(&c, &err);
    }
    if (rc == HONE_OK) fail_msg("accepted: %s", yaml);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, want1, want2 ? want2 : "");
}

static void test_yaml_errors(void **state) {
    (void)state;
    expect_err("iters: 10\nbatchsize: 4\n", "bad.yaml:2: (top level): unknown key 'batchsize'", NULL);
    expect_err("iters: 10\niters: 20\n", "bad.yaml:2:", "duplicate key 'iters'");
    expect_err("lora_parameters:\n  rank: 8\n  alpha: 16\n", "bad.yaml:3: lora_parameters.alpha", "'scale', not 'alpha'");
    expect_err("lora_parameters:\n  rnk: 8\n", "bad.yaml:2: lora_parameters: unknown key 'rnk'", NULL);
    expect_err("lora_parameters:\n  keys: [self_attn.qq_proj]\n", "bad.yaml:2: lora_parameters.keys", "qq_proj");
    expect_err("batch_size: four\n", "bad.yaml:1: batch_size: 'four' is not an integer", NULL);
    expect_err("learning_rate: [1]\n", "bad.yaml:1: learning_rate: expected a number", NULL);
    expect_err("mask_prompt: maybe\n", "bad.yaml:1: mask_prompt: expected true or false", NULL);
    expect_err("lr_schedule:\n  name: cosine\n  arguments: [1e-5, 10]\n", "bad.yaml:2: lr_schedule.name", "cosine_decay");
    expect_err("lr_schedule:\n  name: cosine_decay\n", "bad.yaml:2: lr_schedule: missing key 'arguments'", NULL);
    expect_err("lr_schedule:\n  name: cosine_decay\n  arguments: [1e-5]\n", "cosine_decay takes 2 or 3 arguments", NULL);
    expect_err("lr_schedule:\n  name: linear_schedule\n  arguments: [0, 1e-5, 0]\n", "steps must be greater than 0", NULL);
    expect_err("optimizer_config:\n  adam:\n    weight_decay: 0.1\n", "bad.yaml:3: optimizer_config.adam: unknown key 'weight_decay'", NULL);
    expect_err("optimizer_config:\n  adam:\n    betas: [0.9]\n", "bad.yaml:3: optimizer_config.adam.betas", "two numbers");
    expect_err("optimizer: lion\n", "optimizer 'lion'", NULL);
    expect_err("fine_tune_type: dora\n", "'dora' is not supported yet", NULL);
    expect_err("fine_tune_type: full\n", "'full' is not supported yet", NULL);
    expect_err("hf_dataset:\n  path: x\n", "bad.yaml:2: hf_dataset", "local --data");
    expect_err("iters: [1\n", "bad.yaml:", "YAML");
    expect_err("num_layers: 0\n", "bad.yaml:1: num_layers", NULL);
    expect_err("val_batches: 0\n", "val_batches must be >= 1 or -1", NULL);
    /* a null leaves the default (mlx-lm fills None keys with its defaults) */
    hone_train_config c;
    hone_err err;
    hone_train_config_default(&c);
    ASSERT_OK(hone_train_config_load_yaml_mem(&c, "iters: null\nlora_parameters: ~\n", 31, "n.yaml", &err), &err);
    assert_int_equal(c.iters, 1000);
    assert_int_equal(c.lora_rank, 8);
}

static void test_keys(void **state) {
    (void)state;
    uint32_t k;
    hone_err err;
    ASSERT_OK(hone_train_parse_keys("q_proj,self_attn.v_proj,mlp.gate_proj", &k, &err), &err);
    assert_int_equal(k, (1u << HONE_PROJ_Q) | (1u << HONE_PROJ_V) | (1u << HONE_PROJ_GATE));
    ASSERT_OK(hone_train_parse_keys("all", &k, &err), &err);
    assert_int_equal(k, 127);
    assert_int_equal(hone_train_parse_keys("q_proj,,v_proj", &k, &err), HONE_EARG);
    assert_int_equal(hone_train_parse_keys("lm_head", &k, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "lm_head"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_mlx),
        cmocka_unit_test(test_yaml_full),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
