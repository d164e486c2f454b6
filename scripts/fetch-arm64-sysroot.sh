#!/usr/bin/env bash
# Builds an arm64 sysroot from Debian packages for heron's dynamically linked aarch64 test,
# and prints its path (tests/guest/build/arm64-sysroot):
#   - libc6-arm64-cross (Debian's arm64 glibc: ld-linux-aarch64.so.1, libc.so.6, ...),
#     fetched with `apt-get download` (signed by the archive) and extracted; its
#     usr/aarch64-linux-gnu/lib becomes the sysroot's /lib;
#   - GNU hello (hello_2.10-3_arm64.deb, a dynamically linked Debian arm64 program) from the
#     Debian pool over the mirror in the host's apt sources, checked against its SHA-256,
#     extracted to usr/bin/hello.
# Idempotent: does nothing when the sysroot is complete.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/guest/build/arm64-sysroot"
HELLO_DEB=hello_2.10-3_arm64.deb
HELLO_SHA256=f7b20d304db0f3a18da28eb2000de2b0205eaa340c1d0fecec3b7c50acc932dc

if [ -e "$out/lib/ld-linux-aarch64.so.1" ] && [ -x "$out/usr/bin/hello" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
exec 9>"$(dirname "$out")/.arm64-sysroot.lock"
flock 9
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && apt-get download libc6-arm64-cross >/dev/null) || {
  echo "fetch-arm64-sysroot: apt-get download libc6-arm64-cross failed" >&2
  exit 1
}
dpkg-deb -x "$tmp"/libc6-arm64-cross_*.deb "$tmp/libc"

mirror=""
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
  [ -f "$f" ] || continue
  m="$(grep -hoE '(https?://[^ ]+/debian)/?( |$)' "$f" 2>/dev/null | grep -v security | head -n1 | tr -d ' ' || true)"
  if [ -n "$m" ]; then mirror="${m%/}"; break; fi
done
mirror="${mirror:-http://deb.debian.org/debian}"
url="$mirror/pool/main/h/hello/$HELLO_DEB"
echo "fetch-arm64-sysroot: downloading $url" >&2
curl -fsSL --retry 3 -o "$tmp/$HELLO_DEB" "$url"
if [ "$(sha256sum "$tmp/$HELLO_DEB" | cut -d' ' -f1)" != "$HELLO_SHA256" ]; then
  echo "fetch-arm64-sysroot: $HELLO_DEB has an unexpected SHA-256" >&2
  exit 1
fi
dpkg-deb -x "$tmp/$HELLO_DEB" "$tmp/hello"

new="$out.tmp.$$"
rm -rf "$new"
mkdir -p "$new/usr/bin"
cp -a "$tmp/libc/usr/aarch64-linux-gnu/lib" "$new/lib"
ln -s ../lib "$new/usr/lib"
cp "$tmp/hello/usr/bin/hello" "$new/usr/bin/hello"
rm -rf "$out"
mv "$new" "$out"
echo "$out"
