#!/usr/bin/env bash
# Builds heron (release) and starts Debian's riscv64 busybox shell under it, interactively:
#   scripts/demo.sh                 # an ash prompt running on heron
#   scripts/demo.sh -c 'uname -m'   # or any busybox sh arguments
# Extra heron options go in HERON_OPTS, e.g. HERON_OPTS="--tier interp" scripts/demo.sh.
# (Booting a full riscv64 Linux system comes later; this is user-mode emulation.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet
heron="${CARGO_TARGET_DIR:-$root/target}/release/heron"
bb="$(bash scripts/fetch-busybox.sh)"
# Every applet as a symlink, so the shell finds `ls`, `cat`, ... on PATH.
bin="$root/tests/guest/build/busybox/bin"
if [ ! -e "$bin/ls" ]; then
  mkdir -p "$bin"
  for a in $("$heron" run "$bb" --list); do
    ln -sf "$bb" "$bin/$a"
  done
fi
echo "heron: running busybox sh (riscv64, user mode); type 'exit' to leave" >&2
# shellcheck disable=SC2086
exec env PATH="$bin" PS1='riscv64$ ' HOME="${HOME:-/}" TERM="${TERM:-vt100}" \
  "$heron" run ${HERON_OPTS:-} "$bb" sh "$@"
