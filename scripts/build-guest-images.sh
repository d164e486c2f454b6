#!/usr/bin/env bash
# Builds a riscv64 boot image set for `heron system riscv64` (and the system-mode tests)
# from Debian packages, for machines without the shared /work/shared/guests folder:
#   OUT/riscv64/Image                   Debian trixie kernel (vmlinux, an uncompressed Image)
#   OUT/riscv64/initramfs.cpio.gz       busybox-static + virtio/ext4 modules + our /init
#   OUT/riscv64/fw_dynamic.bin, fw_jump.bin              OpenSBI 1.1 (bookworm)
#   OUT/riscv64/opensbi-1.6/fw_dynamic.bin, fw_jump.bin  OpenSBI 1.6 (trixie)
#   OUT/disk.img                        16 MiB ext2: hello.txt and a 1 MiB pattern file
# The /init prints the same GUEST-* lines as the shared images (see tests/system_boot.rs).
# Use it with:  HERON_GUESTS=OUT cargo test --test system_boot
#
# usage: scripts/build-guest-images.sh [OUT]   (default OUT: tests/guest/build/images)
# Needs: curl, sha256sum, dpkg-deb, python3, mke2fs (e2fsprogs), gzip. No root needed:
# the cpio archive (with /dev/console) is written by python, modules.dep too (no depmod).
# Packages come from $DEBIAN_MIRROR, else the first .../debian mirror of the host's apt
# sources, else deb.debian.org; each is checked against a pinned sha256. When Debian has
# dropped a pinned version from its pool, point DEBIAN_MIRROR at a snapshot, e.g.
# https://snapshot.debian.org/archive/debian/20251201T000000Z
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$root/tests/guest/build/images}" && cd "${1:-$root/tests/guest/build/images}" && pwd)"
WORK="${WORK:-$OUT/.work}"
DL="$WORK/debs"
mkdir -p "$DL" "$OUT/riscv64/opensbi-1.6"

for tool in curl sha256sum dpkg-deb python3 mke2fs gzip; do
  command -v "$tool" >/dev/null || { echo "build-guest-images: '$tool' is missing" >&2; exit 1; }
done

if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR="$(
    { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | grep -E '/debian/?$' | head -n1 || true)"
  DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
fi
DEBIAN_MIRROR="${DEBIAN_MIRROR%/}"

KVER=6.12.107+deb13-riscv64
# pool path, sha256 (from Debian's Packages indexes; the same versions as the shared images)
declare -A SHA=(
  [pool/main/l/linux/linux-image-${KVER}_6.12.107-1_riscv64.deb]=abe9f65d74b434692149482b031db7a2aaf832921e09f69f775293c0e0c5799c
  [pool/main/b/busybox/busybox-static_1.37.0-6+b9_riscv64.deb]=4add476d2b185c5b487c285b38d790f0881a7e4a8e2ddde835f917e770eb8633
  [pool/main/o/opensbi/opensbi_1.1-2_all.deb]=c122d09cff2439fd53ceeb3550257b001bc77cc87530c490a92bdb424bb4222a
  [pool/main/o/opensbi/opensbi_1.6-1_all.deb]=dc4a43bd21a0ca11771ed8b19ee6fa8476d1d0f4976bd0b27c0357c699d27e1e
)

# download POOL-PATH: into $DL, verified; cached across runs
download() {
  local f="$DL/${1##*/}" want="${SHA[$1]}"
  if [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$want" ]; then return; fi
  echo "build-guest-images: downloading ${1##*/}" >&2
  curl -fsSL --retry 3 -o "$f.part" "$DEBIAN_MIRROR/$1"
  local got; got="$(sha256sum < "$f.part" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    rm -f "$f.part"
    echo "build-guest-images: sha256 mismatch for $1 (got $got)" >&2
    exit 1
  fi
  mv -f "$f.part" "$f"
}
for p in "${!SHA[@]}"; do download "$p"; done

unpack() { # deb-file-name dir
  rm -rf "$2"; mkdir -p "$2"; dpkg-deb -x "$DL/$1" "$2"
}

# ---- firmware ----
unpack opensbi_1.1-2_all.deb "$WORK/sbi-1.1"
unpack opensbi_1.6-1_all.deb "$WORK/sbi-1.6"
for fw in fw_dynamic.bin fw_jump.bin; do
  cp "$WORK/sbi-1.1/usr/lib/riscv64-linux-gnu/opensbi/generic/$fw" "$OUT/riscv64/$fw"
  cp "$WORK/sbi-1.6/usr/lib/riscv64-linux-gnu/opensbi/generic/$fw" "$OUT/riscv64/opensbi-1.6/$fw"
done

# ---- kernel ----
unpack "linux-image-${KVER}_6.12.107-1_riscv64.deb" "$WORK/kernel"
cp "$WORK/kernel/boot/vmlinux-$KVER" "$OUT/riscv64/Image"

# ---- initramfs: tree + python-written newc cpio ----
unpack busybox-static_1.37.0-6+b9_riscv64.deb "$WORK/busybox"
tree="$WORK/initramfs"
rm -rf "$tree"
mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,root,etc,run}
cp "$WORK/busybox/usr/bin/busybox" "$tree/bin/busybox"
echo "root:x:0:0:root:/root:/bin/sh" > "$tree/etc/passwd"
echo "root:x:0:" > "$tree/etc/group"
cat > "$tree/init" <<'INIT'
#!/bin/busybox sh
# /init of heron's riscv64 test initramfs: applets, pseudo file systems, a report of what
# the machine looks like (lines starting with GUEST-), then power-off (ci=1 on the kernel
# command line) or a login shell on the console, forever.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=vt100
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
echo "GUEST-BOOT-OK riscv64"
echo "GUEST-UNAME: $(uname -a)"
echo "GUEST-CPUS: $(grep -c '^processor' /proc/cpuinfo)"
echo "GUEST-MEM: $(grep MemTotal /proc/meminfo)"
echo "GUEST-CMDLINE: $(cat /proc/cmdline)"
for m in virtio_mmio virtio_blk virtio_net virtio-rng ext4; do modprobe "$m"; done
ids=""
for d in /sys/bus/virtio/devices/*; do
  [ -f "$d/device" ] && ids="$ids $(cat "$d/device")"
done
echo "GUEST-VIRTIO-DEVICES:$ids"
case "$ids" in
*0x0002*) n=0; while [ ! -b /dev/vda ] && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done ;;
esac
if [ -b /dev/vda ]; then
  echo "GUEST-VDA-SIZE: $(cat /sys/block/vda/size) sectors"
  echo "GUEST-VDA-MD5-1MiB: $(head -c 1048576 /dev/vda | md5sum | cut -d' ' -f1)"
  if mount -t ext4 -o ro /dev/vda /mnt; then
    echo "GUEST-VDA-FILE: $(cat /mnt/hello.txt)"
    echo "GUEST-VDA-PATTERN-MD5: $(md5sum < /mnt/pattern.bin | cut -d' ' -f1)"
    umount /mnt
  fi
fi
if [ -r /sys/class/misc/hw_random/rng_current ] && [ -c /dev/hwrng ]; then
  echo "GUEST-HWRNG: $(cat /sys/class/misc/hw_random/rng_current) $(head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
fi
for n in /sys/class/net/eth*; do
  [ -e "$n/address" ] && echo "GUEST-NET: ${n##*/} $(cat "$n/address")"
done
if grep -qw 'ci=1' /proc/cmdline; then
  echo "GUEST-POWEROFF"
  poweroff -f
fi
while true; do setsid cttyhack sh -l; done
INIT
chmod 755 "$tree/init"

python3 - "$WORK/kernel/usr/lib/modules/$KVER" "$tree/lib/modules/$KVER" "$tree" "$OUT/riscv64/initramfs.cpio" <<'PY'
# Copies the wanted kernel modules and their dependency closure (decompressed), writes
# modules.dep / modules.alias from the modules' own .modinfo, and packs the tree as a
# newc cpio with fixed owners and times plus the /dev/console node.
import lzma, os, struct, sys
src, dst, tree, cpio_out = sys.argv[1:5]
WANT = ["virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "ext4", "crc32c_generic"]

def modinfo(data):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise SystemExit("not an ELF64 module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def sh(i):
        name, _t, _f, _a, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size
    _, stroff, _ = sh(shstrndx)
    for i in range(shnum):
        name, off, size = sh(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            out = {}
            for kv in data[off:off + size].split(b"\0"):
                if b"=" in kv:
                    k, v = kv.decode(errors="replace").split("=", 1)
                    out.setdefault(k, []).append(v)
            return out
    return {}

mods = {}  # name -> (relative path without .xz, bytes, info)
for d, _, files in os.walk(src):
    for f in files:
        if f.endswith(".ko.xz") or f.endswith(".ko"):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, src)
            name = f.split(".ko")[0].replace("-", "_")
            mods[name] = (rel, p)
needed, order = set(), []
def visit(name):
    name = name.replace("-", "_")
    if name in needed:
        return
    if name not in mods:
        raise SystemExit(f"module {name} not found")
    needed.add(name)
    rel, p = mods[name]
    raw = open(p, "rb").read()
    data = lzma.decompress(raw) if p.endswith(".xz") else raw
    info = modinfo(data)
    deps = [x for x in ",".join(info.get("depends", [])).split(",") if x]
    for dep in deps:
        visit(dep)
    order.append((name, rel.removesuffix(".xz"), data, info, deps))
for w in WANT:
    visit(w)
by = {n: r for n, r, *_ in order}
def closure(n, seen):
    for dep in next(x[4] for x in order if x[0] == n):
        dep = dep.replace("-", "_")
        if dep not in seen:
            seen.append(dep)
            closure(dep, seen)
    return seen
dep_lines, alias_lines = [], []
for name, rel, data, info, deps in order:
    out = os.path.join(dst, rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    open(out, "wb").write(data)
    dep_lines.append(rel + ":" + "".join(" " + by[d] for d in closure(name, [])))
    for a in info.get("alias", []):
        alias_lines.append(f"alias {a} {name}")
open(os.path.join(dst, "modules.dep"), "w").write("\n".join(sorted(dep_lines)) + "\n")
open(os.path.join(dst, "modules.alias"), "w").write("\n".join(sorted(alias_lines)) + "\n")
for extra in ("modules.builtin", "modules.order"):
    p = os.path.join(src, extra)
    if os.path.exists(p):
        open(os.path.join(dst, extra), "wb").write(open(p, "rb").read())

MTIME = 1700000000
entries = []  # (name, mode, data, rdev)
for d, dirs, files in os.walk(tree):
    dirs.sort()
    for n in sorted(dirs) + sorted(files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, tree)
        st = os.lstat(p)
        if os.path.islink(p):
            entries.append((rel, 0o120777, os.readlink(p).encode(), (0, 0)))
        elif os.path.isdir(p):
            entries.append((rel, 0o40755, b"", (0, 0)))
        else:
            mode = 0o100755 if st.st_mode & 0o111 else 0o100644
            entries.append((rel, mode, open(p, "rb").read(), (0, 0)))
entries.append(("dev/console", 0o20600, b"", (5, 1)))
entries.sort(key=lambda e: e[0])
with open(cpio_out, "wb") as f:
    def put(ino, name, mode, data, rdev):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 2 if mode & 0o40000 else 1, MTIME, len(data), 0, 0,
            rdev[0], rdev[1], len(nb), 0))
        f.write(hdr.encode() + nb)
        f.write(b"\0" * (-(110 + len(nb)) % 4))
        f.write(data)
        f.write(b"\0" * (-len(data) % 4))
    for i, (name, mode, data, rdev) in enumerate(entries, 1):
        put(i, name, mode, data, rdev)
    put(0, "TRAILER!!!", 0, b"", (0, 0))
print(f"initramfs: {len(entries)} entries, modules: {', '.join(n for n, *_ in order)}", file=sys.stderr)
PY
gzip -9nf "$OUT/riscv64/initramfs.cpio"

# ---- disk ----
rm -rf "$WORK/disk"; mkdir -p "$WORK/disk"
echo "GUEST-DISK-OK virtio-blk test image v1" > "$WORK/disk/hello.txt"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1 << 20)))' > "$WORK/disk/pattern.bin"
rm -f "$OUT/disk.img"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -F -t ext2 -b 1024 -I 256 -L GUESTDISK \
  -E root_owner=0:0 -d "$WORK/disk" "$OUT/disk.img" 16M

(cd "$OUT" && sha256sum riscv64/Image riscv64/initramfs.cpio.gz riscv64/*.bin riscv64/opensbi-1.6/*.bin disk.img)
echo "build-guest-images: done; run the boot tests with HERON_GUESTS=$OUT" >&2
