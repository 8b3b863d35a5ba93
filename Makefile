# hone: build, test, demo. `make` builds build/hone and build/libhone.a.
# Sources are found by globbing: a new src/**/*.c joins the library, a new
# src/cli/*.c joins the CLI, a new tests/unit/test_*.c becomes a test binary,
# a new fuzz/fuzz_*.c a libFuzzer target.

CC       ?= cc
CLANG    ?= clang
OPT      ?= -O2
# -fno-finite-math-only: NaN/Inf checks must keep working; never -Ofast.
CFLAGS   ?= $(OPT) -g
GCC_ONLY := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)),,-Wno-format-truncation)
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fno-finite-math-only \
            -fno-strict-aliasing -pthread -Iinclude -Isrc -MMD -MP
LDLIBS   += -ljansson -lpcre2-8 -lyaml -lsqlite3 -ledit -lcurl -lmicrohttpd -lm -pthread

B        := build
LIB_SRC  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
TESTS    := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
TOOLS    := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)

# Sanitizer build (ASan + UBSan) of the library and tests, for the parsers.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LIB_OBJ := $(LIB_SRC:%.c=$(B)/san/obj/%.o)
SAN_TESTS := $(TEST_SRC:tests/unit/%.c=$(B)/san/tests/%)
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%)

.PHONY: all setup models pyenv test test-unit test-san demo fuzz clean tests-bin san-bin
all: setup $(B)/hone

setup:
	@bash scripts/setup.sh

models: setup
	@bash scripts/models.sh

pyenv:
	@bash scripts/pyenv.sh >/dev/null

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(GCC_ONLY) -c $< -o $@

$(B)/libhone.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/hone: $(CLI_OBJ) $(B)/libhone.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(B)/libhone.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libhone.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(B)/libhone.a $(LDLIBS) -lcmocka

$(B)/tools/%: tests/tools/%.c $(B)/libhone.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libhone.a $(LDLIBS)

$(B)/san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out $(OPT),$(CFLAGS)) $(SAN_FLAGS) -c $< -o $@

$(B)/san/libhone.a: $(SAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/san/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/san/libhone.a
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out $(OPT) -MMD -MP,$(CFLAGS)) $(SAN_FLAGS) -Itests/unit -o $@ $< $(B)/san/libhone.a $(LDLIBS) -lcmocka

# libFuzzer builds: the library once with coverage + ASan/UBSan instrumentation,
# each target linked against it.
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(B)/fuzzobj/%.o)

$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out $(OPT),$(CFLAGS)) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/libhone.a: $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(B)/fuzz/%: fuzz/%.c $(B)/fuzz/libhone.a
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out $(OPT) -MMD -MP,$(CFLAGS)) $(FUZZ_FLAGS) -fsanitize=fuzzer \
	  -o $@ $< $(B)/fuzz/libhone.a $(LDLIBS)

tests-bin: $(TESTS) $(B)/hone $(TOOLS)
san-bin: $(SAN_TESTS)

# The whole suite: unit tests, the same tests under ASan+UBSan, and the interop
# checks against gguf-py / safetensors on the real models. Prints one summary line.
test: setup models pyenv
	@$(MAKE) --no-print-directory tests-bin san-bin $(FUZZERS)
	@bash tests/run.sh

# FUZZ_SECONDS per target (default 60), starting from the committed corpus.
FUZZ_SECONDS ?= 60
fuzz: setup $(FUZZERS)
	@bash tests/fuzz.sh $(FUZZ_SECONDS)

demo: setup models
	@$(MAKE) --no-print-directory $(B)/hone
	@bash scripts/demo.sh

clean:
	rm -rf $(B)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SAN_LIB_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)

# Kernel-lab benchmark of the fast CPU matmul (bench/RESULTS.md): build/gemm_bench.
.PHONY: bench
bench: $(B)/gemm_bench
$(B)/gemm_bench: bench/gemm_bench.c $(B)/libhone.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libhone.a $(LDLIBS)
