#!/usr/bin/env bash
# heron's main job: build heron (release) and boot Debian's riscv64 kernel on the `virt`
# board to an interactive busybox shell on this terminal (Ctrl-A x quits, Ctrl-A h helps;
# `poweroff -f` in the guest stops it too).
#   scripts/boot.sh                 # interactive shell
#   scripts/boot.sh ci=1            # extra kernel arguments: ci=1 checks the disk and powers off
# Images: $HERON_GUESTS, else ../shared/guests beside the project, else built once from
# Debian packages by scripts/build-guest-images.sh into tests/guest/build/images.
# Extra heron/QEMU options go in HERON_OPTS, after the defaults so they win
# (e.g. HERON_OPTS="-smp 2" or HERON_OPTS="--tier interp").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --quiet
heron="${CARGO_TARGET_DIR:-$root/target}/release/heron"
guests="${HERON_GUESTS:-}"
if [ -z "$guests" ]; then
  if [ -f "$root/../shared/guests/riscv64/Image" ]; then
    guests="$root/../shared/guests"
  else
    guests="$root/tests/guest/build/images"
    if [ ! -f "$guests/riscv64/Image" ]; then
      for tool in curl dpkg-deb python3 mke2fs gzip; do
        command -v "$tool" >/dev/null || { bash scripts/install-deps.sh >&2; break; }
      done
      bash scripts/build-guest-images.sh "$guests" >&2
    fi
  fi
fi
echo "heron: booting riscv64 Linux from $guests (Ctrl-A x quits, Ctrl-A h helps)" >&2
# The disk is used with snapshot=on: the guest may write to it, the image file stays as is.
# shellcheck disable=SC2086
exec "$heron" system riscv64 -M virt -accel tcg -nographic -no-reboot \
  -nic none -smp 1 -m 256M \
  -bios "$guests/riscv64/fw_dynamic.bin" -kernel "$guests/riscv64/Image" \
  -initrd "$guests/riscv64/initramfs.cpio.gz" -append "console=ttyS0 panic=-1 $*" \
  -drive "file=$guests/disk.img,format=raw,if=none,id=hd0,snapshot=on" \
  -device virtio-blk-device,drive=hd0 -device virtio-rng-device ${HERON_OPTS:-}
