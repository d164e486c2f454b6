#!/usr/bin/env bash
# heron's guest-workload benchmark. Builds heron in release (cargo's bench profile) and the C
# workloads in benches/workloads (natively and as static riscv64 binaries, into benches/build),
# runs every workload natively, under qemu-riscv64 and under `heron run`, interleaved, N times,
# checks that all outputs agree and prints a table of median times, ratios and geometric means.
# Exits non-zero if a run fails or outputs disagree. Arguments go to the harness; see --help.
# Examples:
#   scripts/bench.sh                          # all workloads, heron tier auto, 3 reps
#   scripts/bench.sh --tiers auto,jit --reps 5 vm nbody
#   scripts/bench.sh --tiers interp --scale 0.1 --no-qemu
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v riscv64-linux-gnu-gcc >/dev/null || ! command -v qemu-riscv64 >/dev/null; then
  scripts/install-deps.sh
fi
exec cargo bench --bench guest_workloads -- "$@"
