#!/usr/bin/env bash
# Builds dev/ggml_mm_bench.c against the ggml that llama-cpp-python built (in
# ~/.cache/hone/venv-llama, not part of hone's build) and runs it. Args go to it.
set -eu
cd "$(dirname "$0")/.."
SP=$(ls -d ~/.cache/hone/venv-llama/lib/python3*/site-packages | head -1)
mkdir -p build
cc -O2 -I"$SP/include" dev/ggml_mm_bench.c -o build/ggml_mm_bench \
   -L"$SP/lib" -lggml-base -lggml-cpu -Wl,-rpath,"$SP/lib"
exec build/ggml_mm_bench "$@"
