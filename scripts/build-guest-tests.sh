#!/usr/bin/env bash
# Cross-compiles heron's guest test programs into tests/guest/build/{riscv64,aarch64}/:
#   tests/guest/riscv64/asm/*.S  -> build/riscv64/asm/NAME  (bare metal-ish, -nostdlib, linked with rt.S)
#   tests/guest/riscv64/c/*.c    -> build/riscv64/c/NAME    (glibc, -static -O2 unless marked dynamic)
#   tests/guest/go/*.go          -> build/riscv64/go/NAME   (GOARCH=riscv64, CGO_ENABLED=0)
#   tests/guest/riscv64/bare/*.S -> build/riscv64/bare/NAME.bin (system mode, flat at 0x80000000)
#   tests/guest/aarch64/asm/*.S  -> build/aarch64/asm/NAME  (linked with aarch64 rt.S unless the
#                                   source says "heron-build: standalone")
#   tests/guest/aarch64/c/*.c and the ISA-neutral riscv64 C programs -> build/aarch64/c/NAME
#   tests/guest/go/*.go          -> build/aarch64/go/NAME   (GOARCH=arm64)
# A source may carry one line "// heron-build: KEY=VALUE ..." with keys
#   march=ISA (default rv64g for asm, rv64gc for C), link=dynamic,
#   cflags=FLAG[,FLAG...] (placed after the source, so libraries work)
# Incremental: a target is rebuilt only when it is older than its source, the
# shared asm runtime/macros, or this script. Runs up to $(nproc) compilers at once.
set -euo pipefail
shopt -s nullglob
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tests/guest/riscv64"
out="$root/tests/guest/build/riscv64"
CC="${HERON_RISCV64_CC:-riscv64-linux-gnu-gcc}"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "build-guest-tests: cross compiler '$CC' not found; run scripts/install-deps.sh" >&2
  exit 1
fi
self="$root/scripts/build-guest-tests.sh"
mkdir -p "$out/asm" "$out/c" "$out/go"
# one build at a time (parallel test binaries may call this script together)
exec 9>"$out/.lock"
flock 9
jobs_max="$(nproc 2>/dev/null || echo 2)"
pids=()
failed=0

# stale TARGET DEP...: true when TARGET is missing or older than any DEP
stale() {
  local t="$1"; shift
  [ -e "$t" ] || return 0
  local d
  for d in "$@"; do
    [ "$d" -nt "$t" ] && return 0
  done
  return 1
}

# directive FILE KEY: the value of KEY in FILE's "heron-build:" line, or empty
directive() {
  sed -n 's/.*heron-build:\(.*\)$/\1/p' "$1" | head -n1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

wait_slot() {
  while [ "${#pids[@]}" -ge "$jobs_max" ]; do
    if ! wait "${pids[0]}"; then failed=1; fi
    pids=("${pids[@]:1}")
  done
}

spawn() {
  wait_slot
  "$@" &
  pids+=("$!")
}

# compile LOG-NAME TARGET CMD...: runs CMD into a temporary file, renames on success
compile() {
  local name="$1" target="$2"; shift 2
  local tmp="$target.tmp.$$"
  if "$@" -o "$tmp"; then
    mv -f "$tmp" "$target"
    echo "  built $name" >&2
  else
    rm -f "$tmp"
    echo "build-guest-tests: FAILED $name" >&2
    return 1
  fi
}

asm_common=("$src/asm/rt.S" "$src/asm/macros.inc" "$self")
for s in "$src"/asm/*.S; do
  name="$(basename "$s" .S)"
  [ "$name" = rt ] && continue
  t="$out/asm/$name"
  stale "$t" "$s" "${asm_common[@]}" || continue
  march="$(directive "$s" march)"; march="${march:-rv64g}"
  spawn compile "asm/$name" "$t" "$CC" -march="$march" -mabi=lp64d -nostdlib -nostartfiles -static \
    -Wl,--build-id=none -I"$src/asm" "$src/asm/rt.S" "$s"
done

for s in "$src"/c/*.c; do
  name="$(basename "$s" .c)"
  t="$out/c/$name"
  hdrs=("$src"/c/*.h)
  stale "$t" "$s" "$self" "${hdrs[@]}" || continue
  march="$(directive "$s" march)"; march="${march:-rv64gc}"
  link="$(directive "$s" link)"
  extra="$(directive "$s" cflags | tr ',' ' ')"
  flags=(-march="$march" -mabi=lp64d -O2 -g0 -Wall -Wextra -Werror -pthread)
  [ "$link" = dynamic ] || flags+=(-static)
  # shellcheck disable=SC2206
  [ -n "$extra" ] && flags+=($extra)
  spawn compile "c/$name" "$t" "$CC" "$s" "${flags[@]}"
done

# ---- aarch64: tests/guest/aarch64/{asm,c} and the portable riscv64 C programs ----
a64src="$root/tests/guest/aarch64"
a64out="$root/tests/guest/build/aarch64"
A64CC="${HERON_AARCH64_CC:-aarch64-linux-gnu-gcc}"
if command -v "$A64CC" >/dev/null 2>&1; then
  mkdir -p "$a64out/asm" "$a64out/c" "$a64out/go"
  a64_asm_common=("$a64src/asm/rt.S" "$a64src/asm/macros.inc" "$self")
  for s in "$a64src"/asm/*.S; do
    name="$(basename "$s" .S)"
    [ "$name" = rt ] && continue
    t="$a64out/asm/$name"
    incs=("$a64src"/asm/*.inc)
    stale "$t" "$s" "${a64_asm_common[@]}" "${incs[@]}" || continue
    march="$(directive "$s" march)"; march="${march:-armv8-a}"
    if grep -q 'heron-build:.*standalone' "$s"; then
      spawn compile "aarch64/asm/$name" "$t" "$A64CC" -march="$march" -nostdlib -nostartfiles -static \
        -Wl,--build-id=none -I"$a64src/asm" "$s"
    else
      spawn compile "aarch64/asm/$name" "$t" "$A64CC" -march="$march" -nostdlib -nostartfiles -static \
        -Wl,--build-id=none -I"$a64src/asm" "$a64src/asm/rt.S" "$s"
    fi
  done
  # C programs of the riscv64 suite that are ISA-neutral, plus the aarch64 ones.
  a64_c=()
  for n in hello exitcode fileio fork malloc_stress threads sysinfo gdbtarget; do
    a64_c+=("$src/c/$n.c")
  done
  a64_c+=("$a64src"/c/*.c)
  for s in "${a64_c[@]}"; do
    name="$(basename "$s" .c)"
    t="$a64out/c/$name"
    hdrs=("$src"/c/*.h)
    stale "$t" "$s" "$self" "${hdrs[@]}" || continue
    march="$(directive "$s" march)"; march="${march:-armv8-a}"
    [ "$(dirname "$s")" = "$src/c" ] && march=armv8-a
    link="$(directive "$s" link)"
    extra="$(directive "$s" cflags | tr ',' ' ')"
    flags=(-march="$march" -O2 -g0 -Wall -Wextra -Werror -pthread -I"$src/c")
    [ "$link" = dynamic ] || flags+=(-static)
    # shellcheck disable=SC2206
    [ -n "$extra" ] && flags+=($extra)
    spawn compile "aarch64/c/$name" "$t" "$A64CC" "$s" "${flags[@]}"
  done
else
  echo "build-guest-tests: '$A64CC' not found; aarch64 guests not built (run scripts/install-deps.sh)" >&2
fi

gosrc="$root/tests/guest/go"
gofiles=("$gosrc"/*.go)
if [ "${#gofiles[@]}" -gt 0 ]; then
  if command -v go >/dev/null 2>&1; then
    for s in "$gosrc"/*.go; do
      name="$(basename "$s" .go)"
      t="$out/go/$name"
      stale "$t" "$s" "$self" || continue
      export GOCACHE="${GOCACHE:-$root/tests/guest/build/.gocache}"
      export GOPATH="${GOPATH:-$root/tests/guest/build/.gopath}"
      export GOFLAGS="${GOFLAGS:-} -trimpath"
      spawn env GOOS=linux GOARCH=riscv64 CGO_ENABLED=0 GO111MODULE=off GOTOOLCHAIN=local \
        bash -c 'cd "$(dirname "$1")" && go build -o "$2.tmp.$$" "$(basename "$1")" && mv -f "$2.tmp.$$" "$2" && echo "  built go/$3" >&2' \
        _ "$s" "$t" "$name"
      ta="$a64out/go/$name"
      if [ -d "$a64out/go" ] && stale "$ta" "$s" "$self"; then
        spawn env GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GO111MODULE=off GOTOOLCHAIN=local \
          bash -c 'cd "$(dirname "$1")" && go build -o "$2.tmp.$$" "$(basename "$1")" && mv -f "$2.tmp.$$" "$2" && echo "  built aarch64/go/$3" >&2' \
          _ "$s" "$ta" "$name"
      fi
    done
  else
    echo "build-guest-tests: 'go' not found; run scripts/install-deps.sh" >&2
    failed=1
  fi
fi

# Bare-metal system-mode programs: tests/guest/riscv64/bare/*.S -> build/riscv64/bare/NAME.bin,
# flat binaries linked at 0x80000000 (loaded with `heron system riscv64 -bios NAME.bin`).
AS="${HERON_RISCV64_AS:-riscv64-linux-gnu-as}"
LD="${HERON_RISCV64_LD:-riscv64-linux-gnu-ld}"
OBJCOPY="${HERON_RISCV64_OBJCOPY:-riscv64-linux-gnu-objcopy}"
mkdir -p "$out/bare"
bare_one() { # name source target
  local tmp="$3.tmp.$$"
  if "$AS" -march=rv64gc -I"$src/bare" "$2" -o "$tmp.o" &&
     "$LD" -Ttext=0x80000000 --no-relax -o "$tmp.elf" "$tmp.o" &&
     "$OBJCOPY" -O binary "$tmp.elf" "$tmp"; then
    # The ELF stays beside the binary, for gdb's symbols.
    mv -f "$tmp" "$3"; mv -f "$tmp.elf" "${3%.bin}.elf"; rm -f "$tmp.o"
    echo "  built bare/$1" >&2
  else
    rm -f "$tmp" "$tmp.o" "$tmp.elf"
    echo "build-guest-tests: FAILED bare/$1" >&2
    return 1
  fi
}
for s in "$src"/bare/*.S; do
  name="$(basename "$s" .S)"
  t="$out/bare/$name.bin"
  stale "$t" "$s" "$src/bare/bare.inc" "$self" || continue
  spawn bare_one "$name" "$s" "$t"
done

for p in "${pids[@]}"; do
  if ! wait "$p"; then failed=1; fi
done
exit "$failed"
