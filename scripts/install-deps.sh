#!/usr/bin/env bash
# Installs what heron's tests and benchmarks need from Debian's packages:
# cross compilers for guest programs, qemu-user for side-by-side comparison,
# Go for a third-party static guest program, cpio/xz/dpkg tools to unpack the
# busybox guest, dtc to check generated device trees, gdb-multiarch for the gdb stub test,
# qemu-system-riscv64 (qemu-system-misc) as the boot reference and e2fsprogs for
# scripts/build-guest-images.sh. Idempotent; quiet when all is present.
set -euo pipefail
pkgs=(
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  qemu-user golang-go cpio xz-utils gzip make ca-certificates curl
  device-tree-compiler gdb-multiarch qemu-system-misc e2fsprogs python3
)
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in "${pkgs[@]}"; do
  have "$p" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi
