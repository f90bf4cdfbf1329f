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

cargo test --release --workspace
