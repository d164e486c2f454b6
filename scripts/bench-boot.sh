#!/usr/bin/env bash
# Boot-to-poweroff time of the riscv64 guest image under heron and qemu-system-riscv64,
# measured side by side (alternating runs, same command line apart from the binary name),
# with the median of each, their ratio, and heron's `-d stats` (translation vs execution
# share) from an extra, untimed run.
# usage: scripts/bench-boot.sh [RUNS]          (default 3)
# env:   HERON_GUESTS=dir   images (default /work/shared/guests; see build-guest-images.sh)
#        HERON_BIN=path     heron binary (default: cargo build --release, target/release/heron)
#        HERON_TIER=tier    heron's tier (default auto)   SMP=n (default 1)
#        SBI=1.6, FW=jump   firmware variants as in the guests' boot-qemu.sh
#        TIMEOUT=s          per run (default 900)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
G="${HERON_GUESTS:-/work/shared/guests}"
SMP="${SMP:-1}" TIMEOUT="${TIMEOUT:-900}" TIER="${HERON_TIER:-auto}"
[ -f "$G/riscv64/Image" ] || { echo "bench-boot: no images in $G (set HERON_GUESTS)" >&2; exit 1; }
if ! command -v qemu-system-riscv64 >/dev/null; then
  echo "bench-boot: installing qemu-system-misc (qemu-system-riscv64)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq --no-install-recommends qemu-system-misc </dev/null >/dev/null
fi
if [ -z "${HERON_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  HERON_BIN="${CARGO_TARGET_DIR:-$root/target}/release/heron"
fi
SBIDIR=riscv64; [ "${SBI:-1.1}" = 1.6 ] && SBIDIR=riscv64/opensbi-1.6
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cp "$G/disk.img" "$tmp/disk.img"
ARGS=(-M virt -accel tcg -nographic -no-reboot -nic none -smp "$SMP" -m 256M
  -bios "$G/$SBIDIR/fw_${FW:-dynamic}.bin" -kernel "$G/riscv64/Image"
  -initrd "$G/riscv64/initramfs.cpio.gz" -append "console=ttyS0 panic=-1 ci=1"
  -drive "file=$tmp/disk.img,format=raw,if=none,id=hd0,snapshot=on"
  -device virtio-blk-device,drive=hd0 -device virtio-rng-device)

# one NAME CMD...: runs a boot, prints its wall time, checks it reached the guest's end
one() {
  local name="$1"; shift
  local s e rc=0
  s=$(date +%s.%N)
  timeout "$TIMEOUT" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  e=$(date +%s.%N)
  if ! grep -q GUEST-POWEROFF "$tmp/$name.out"; then
    echo "bench-boot: $name did not reach GUEST-POWEROFF (exit $rc); output tail:" >&2
    tail -n 20 "$tmp/$name.out" >&2; tail -n 5 "$tmp/$name.err" >&2
    exit 1
  fi
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f\n", e - s }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: >"$tmp/heron.times"; : >"$tmp/qemu.times"
for i in $(seq "$RUNS"); do
  q=$(one qemu qemu-system-riscv64 "${ARGS[@]}")
  h=$(one heron "$HERON_BIN" system riscv64 "${ARGS[@]}" --tier "$TIER")
  echo "run $i: qemu ${q} s, heron ${h} s" >&2
  echo "$q" >>"$tmp/qemu.times"; echo "$h" >>"$tmp/heron.times"
done
qm=$(median <"$tmp/qemu.times"); hm=$(median <"$tmp/heron.times")
echo "riscv64 boot-to-poweroff, smp $SMP, firmware $SBIDIR/fw_${FW:-dynamic}.bin, heron tier $TIER, $RUNS run(s)"
echo "  qemu-system-riscv64: $(tr '\n' ' ' <"$tmp/qemu.times")-> median $qm s"
echo "  heron:               $(tr '\n' ' ' <"$tmp/heron.times")-> median $hm s"
awk -v h="$hm" -v q="$qm" 'BEGIN { printf "  heron / qemu = %.2f\n", h / q }'
# -d stats makes generated code count TLB hits and block entries: a run of its own,
# not timed.
one heron "$HERON_BIN" system riscv64 "${ARGS[@]}" --tier "$TIER" -d stats >/dev/null
echo "heron -d stats (an extra run, not timed):"
sed 's/^/  /' "$tmp/heron.err"
