#!/usr/bin/env bash
# heron's full test command (also what CI runs through .ci/run):
#   1. installs the Debian packages the tests need (scripts/install-deps.sh),
#   2. cross-compiles the guest test programs, fetches busybox (riscv64, arm64) and the arm64 sysroot,
#   3. cargo fmt --check, cargo clippy --all-targets -D warnings,
#   4. cargo test --workspace in the release profile (the guest programs run under heron,
#      and the release build makes that suite several times faster than it costs to build),
#   5. checks that docs/guide.md is what scripts/gen-guide.sh generates from the current build.
# Set HERON_TEST_PROFILE=dev to test the debug build instead. Exits non-zero on any failure
# (after running every step that can run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo "== $* ($(($(date +%s) - start))s)"; }

step "install-deps"
bash scripts/install-deps.sh
step "build guest programs"
bash scripts/build-guest-tests.sh
bash scripts/fetch-busybox.sh >/dev/null
bash scripts/fetch-busybox.sh arm64 >/dev/null
bash scripts/fetch-arm64-sysroot.sh >/dev/null
# Lint failures do not stop the run: the tests still run and the script fails at the end.
failed=()
step "cargo fmt --check"
cargo fmt --all -- --check || failed+=("cargo fmt --check")
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings || failed+=("cargo clippy")
profile="${HERON_TEST_PROFILE:-release}"
step "cargo test ($profile)"
HERON_DIFFTEST_SUMMARY="$(mktemp)"
export HERON_DIFFTEST_SUMMARY
if [ "$profile" = release ]; then
  cargo test --workspace --release --locked --no-fail-fast || failed+=("cargo test")
else
  cargo test --workspace --locked --no-fail-fast || failed+=("cargo test")
fi
# The differential tester's count of compared sequences (cargo captures test output).
cat "$HERON_DIFFTEST_SUMMARY"
rm -f "$HERON_DIFFTEST_SUMMARY"
step "docs/guide.md is up to date"
if [ "$profile" = release ]; then
  bash scripts/gen-guide.sh --check || failed+=("docs/guide.md is stale (scripts/gen-guide.sh)")
else
  HERON_BIN="${CARGO_TARGET_DIR:-target}/debug/heron" bash scripts/gen-guide.sh --check ||
    failed+=("docs/guide.md is stale (scripts/gen-guide.sh)")
fi
if [ "${#failed[@]}" -gt 0 ]; then
  step "FAILED: ${failed[*]}"
  exit 1
fi
step "all checks and tests passed"
