#!/usr/bin/env bash
# Runs every test of wavetrace on a fresh machine: installs what the tests
# need, unpacks the shared corpora into target/corpora (../shared is
# read-only in CI), then runs the whole suite in one build profile.
set -euo pipefail
cd "$(dirname "$0")/.."

shared=${WAVETRACE_SHARED_CORPORA:-../shared/corpora}
if ! command -v zstd >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq --no-upgrade zstd sqlite3 >/dev/null
fi
command -v sqlite3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-upgrade sqlite3 >/dev/null; }
bash "$shared/unpack.sh" target/corpora

# The export tests check wavetrace's files with the tools that consume them:
# Debian's Chromium renders the HTML report; the official STIX validator and
# PyMISP (from PyPI, pinned, in a virtual environment under target/) check
# the STIX bundle and the MISP events.
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
pyenv=target/pyenv
if ! "$pyenv/bin/python" -c 'import stix2validator, pymisp' >/dev/null 2>&1; then
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q --disable-pip-version-check -r scripts/export-checks.txt
fi
export WAVETRACE_CHROMIUM=${WAVETRACE_CHROMIUM:-$(command -v chromium)}
export WAVETRACE_PYTHON=${WAVETRACE_PYTHON:-$PWD/$pyenv/bin/python}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
