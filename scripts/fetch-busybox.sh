#!/usr/bin/env bash
# Provides Debian's static riscv64 busybox (1:1.37.0-6+b9) at
# tests/guest/build/busybox/busybox for heron's third-party guest tests, and prints its path.
# Sources, in order: the file named by $HERON_BUSYBOX; /bin/busybox inside
# ../shared/guests/riscv64/initramfs.cpio.gz (next to the repository or its main worktree);
# the busybox-static .deb from the Debian pool, over the mirror in the host's apt sources.
# The binary (and the .deb, when downloaded) must match the SHA-256 recorded below.
# With the argument `arm64` it provides Debian's arm64 busybox-static of the same version at
# tests/guest/build/busybox-arm64/busybox instead (from $HERON_BUSYBOX_ARM64 or the pool).
set -euo pipefail
arch="${1:-riscv64}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$arch" in
  riscv64)
    DEB=busybox-static_1.37.0-6+b9_riscv64.deb
    DEB_SHA256=4add476d2b185c5b487c285b38d790f0881a7e4a8e2ddde835f917e770eb8633
    BIN_SHA256=659d3048d0849dcd03308ece5214c896f657dde1c76ab7a30e9727e3ed8d309b
    outdir="$root/tests/guest/build/busybox"
    local_bin="${HERON_BUSYBOX:-}"
    ;;
  arm64)
    DEB=busybox-static_1.37.0-6+b9_arm64.deb
    DEB_SHA256=c833be48abfa16bc19c4966ec93e289ff1ce5d2f1476cad3a57bd105378cd15c
    BIN_SHA256=7d93682be37cf6ed46699f6fff546b80bf133cf8ec342c2d04bc23387f78bc34
    outdir="$root/tests/guest/build/busybox-arm64"
    local_bin="${HERON_BUSYBOX_ARM64:-}"
    ;;
  *)
    echo "fetch-busybox: unknown architecture '$arch' (riscv64 or arm64)" >&2
    exit 2
    ;;
esac
out="$outdir/busybox"
mkdir -p "$outdir"

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if [ -x "$out" ] && sha_ok "$out" "$BIN_SHA256"; then
  echo "$out"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

install_bin() {
  if sha_ok "$1" "$BIN_SHA256"; then
    cp "$1" "$out.tmp.$$" && chmod 755 "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
    echo "$out"
    exit 0
  fi
  echo "fetch-busybox: $1 does not match the recorded SHA-256, ignored" >&2
}

if [ -n "$local_bin" ] && [ -f "$local_bin" ]; then
  install_bin "$local_bin"
fi

# shared/ sits beside the repository; for a git worktree, beside the main checkout.
candidates=()
if [ "$arch" = riscv64 ]; then
  candidates+=("$root/../shared/guests/riscv64/initramfs.cpio.gz")
  if common="$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)"; then
    candidates+=("$(dirname "$common")/../shared/guests/riscv64/initramfs.cpio.gz")
  fi
fi
for c in "${candidates[@]+"${candidates[@]}"}"; do
  if [ -f "$c" ] && command -v cpio >/dev/null 2>&1; then
    (cd "$tmp" && gzip -dc "$c" | cpio -idm --quiet bin/busybox 2>/dev/null) || true
    [ -f "$tmp/bin/busybox" ] && install_bin "$tmp/bin/busybox"
  fi
done

# Download the .deb from the Debian mirror configured for apt.
mirror=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
  [ -f "$f" ] || continue
  m="$(grep -hoE '(https?://[^ ]+/debian)/?( |$)' "$f" 2>/dev/null | grep -v security | head -n1 | tr -d ' ' || true)"
  if [ -n "$m" ]; then mirror="${m%/}"; break; fi
done
mirror="${mirror:-http://deb.debian.org/debian}"
url="$mirror/pool/main/b/busybox/$DEB"
echo "fetch-busybox: downloading $url" >&2
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o "$tmp/$DEB" "$url"
else
  wget -q -O "$tmp/$DEB" "$url"
fi
if ! sha_ok "$tmp/$DEB" "$DEB_SHA256"; then
  echo "fetch-busybox: $DEB has an unexpected SHA-256" >&2
  exit 1
fi
dpkg-deb -x "$tmp/$DEB" "$tmp/x"
install_bin "$tmp/x/usr/bin/busybox"
echo "fetch-busybox: no usable busybox found" >&2
exit 1
