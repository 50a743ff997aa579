#!/usr/bin/env bash
# Installs everything kite needs to build, test and run, from Debian packages and PyPI only.
# Idempotent: skips what is already there. Run as root (or with sudo available).
set -euo pipefail

APT_PACKAGES=(build-essential cmake ccache pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libboost-dev
  python3 python3-pip)
# Fuzzing (docs/fuzzing.md) also needs: clang libclang-rt-14-dev
PIP_PACKAGES=(numpy safetensors gguf openai tokenizers pytest jsonschema requests jinja2 kubernetes-validate llguidance)

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
need_pip=()
for p in "${PIP_PACKAGES[@]}"; do
  mod=$p
  case $p in jinja2) mod=jinja2;; kubernetes-validate) mod=kubernetes_validate;; esac
  $PY -c "import $mod" >/dev/null 2>&1 || need_pip+=("$p")
done
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "setup: installing Python packages: ${need_pip[*]}"
  $PY -m pip install -q "${need_pip[@]}" 2>/dev/null || $PY -m pip install -q --break-system-packages "${need_pip[@]}"
fi
