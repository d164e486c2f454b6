#!/usr/bin/env bash
# Generates docs/guide.md from the template docs/guide.md.in: every template line of the form
# "@@NAME@@" is replaced by real output of the current heron build running the guide's
# guest program (tests/guest/riscv64/asm/guide.S). Output is normalised so it does not
# depend on the host: host code addresses become offsets from the block start, other host
# addresses become <host>, thread ids and timings are replaced by fixed words.
#
#   scripts/gen-guide.sh           rewrite docs/guide.md
#   scripts/gen-guide.sh --check   fail (exit 1, with a diff) if docs/guide.md is stale
#
# heron is $HERON_BIN when set, else the release build (built here if needed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode=write
[ "${1:-}" = "--check" ] && mode=check

bash scripts/build-guest-tests.sh >/dev/null
if [ -n "${HERON_BIN:-}" ]; then
  heron="$HERON_BIN"
else
  cargo build --release --locked -q --bin heron
  heron="${CARGO_TARGET_DIR:-$root/target}/release/heron"
fi
prog=tests/guest/build/riscv64/asm/guide
loop=0x$(riscv64-linux-gnu-nm "$prog" | awk '$3 == "guide_loop" { print $1 }' | sed 's/^0*//')

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# heron with an empty environment, so the guest stack (and every address on it) is the same
# on every machine. The -d output goes to stderr.
run() { env -i PATH=/usr/bin:/bin "$heron" run "$@" "$prog" 2>&1 >/dev/null; }

# The blank-line separated paragraph of the trace whose first line is $1.
para() { awk -v head="$1" 'BEGIN { RS = "" } index($0, head) == 1 { print; exit }'; }

# Host-independent form of an OUT: block: instruction addresses and in-block branch targets
# as offsets from the block's first instruction, other host addresses as <host>.
norm_out() {
  local base="" end=0 line addr rest out tok off
  while IFS= read -r line; do
    if [[ $line =~ ^OUT:\ \[(0x[0-9a-f]+)\]\ ([0-9]+)\ bytes ]]; then
      end=${BASH_REMATCH[2]}
      printf '%s\n' "$line"
      continue
    fi
    if [[ $line =~ ^(0x[0-9a-f]+):\ (.*)$ ]]; then
      addr=${BASH_REMATCH[1]}
      rest=${BASH_REMATCH[2]}
      [ -z "$base" ] && base=$addr
      out=""
      while [[ $rest =~ ^(.*[^0-9a-fx]|)(0x[0-9a-f]{9,})(.*)$ ]]; do
        tok=${BASH_REMATCH[2]}
        off=$((tok - base))
        if [ "$off" -ge 0 ] && [ "$off" -lt "$end" ]; then
          out="$(printf '+0x%03x' "$off")${BASH_REMATCH[3]}$out"
        else
          out="<host>${BASH_REMATCH[3]}$out"
        fi
        rest=${BASH_REMATCH[1]}
      done
      printf '+0x%03x: %s\n' "$((addr - base))" "$rest$out"
    else
      printf '%s\n' "$line"
    fi
  done
}

# Thread ids and timings.
norm_misc() {
  sed -E -e 's/thread [0-9]+/thread TID/g' -e 's/Thread 1\.[0-9]+/Thread 1.TID/g' \
    -e 's/[0-9]+\.[0-9]{3} ms/N.NNN ms/g'
}

trace="$(run --tier jit -d in_asm,op,out_asm)"
printf '%s\n' "$trace" | para "IN: $loop" > "$work/in_asm"
printf '%s\n' "$trace" | para "OP:
block $loop:" > "$work/op"
printf '%s\n' "$trace" | para "OUT: [$loop]" | norm_out > "$work/out_asm"
run --tier auto --jit-threshold 3 -d exec > "$work/exec"
# The first two register dumps at the loop's block.
run -d cpu | awk -v pc="$(printf '%016x' "$loop")" '
  /^pc / { keep = ($2 == pc) ? ++n <= 2 : 0 }
  keep' > "$work/cpu"
run --tier auto -d stats | norm_misc > "$work/stats"
run -d icount | norm_misc > "$work/icount"
cp tests/guest/riscv64/asm/guide.S "$work/source"

# A gdb session (gdb-multiarch in batch mode) against `heron run -g 0`.
if command -v gdb-multiarch >/dev/null 2>&1; then
  : > "$work/heron.err"
  env -i PATH=/usr/bin:/bin "$heron" run -g 0 "$prog" > /dev/null 2>> "$work/heron.err" &
  hpid=$!
  port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/^heron: waiting for gdb on port \([0-9]*\)$/\1/p' "$work/heron.err" || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "gen-guide: heron did not start its gdb stub" >&2; exit 1; }
  cat > "$work/session.gdb" <<EOF
target remote 127.0.0.1:$port
break *guide_loop
continue
info registers a0 a1
stepi
x/i \$pc
info registers a0
delete
continue
EOF
  {
    echo "(gdb) target remote 127.0.0.1:PORT"
    timeout 60 gdb-multiarch -batch -nx -ex 'set pagination off' -x "$work/session.gdb" "$prog" 2>&1 |
      norm_misc
  } > "$work/gdb"
  wait "$hpid" || true
else
  echo "gen-guide: gdb-multiarch is not installed (scripts/install-deps.sh)" >&2
  exit 1
fi

# The prose of the template relies on these facts of the output: when the code changes
# them, the text must be updated with it.
require() {
  grep -qF -- "$2" "$work/$1" || {
    echo "gen-guide: the $1 listing no longer contains '$2'; update docs/guide.md.in" >&2
    exit 1
  }
}
require in_asm "00b50533  add a0, a0, a1"
require op "t2:i64 = add t0, t1"
require op "goto_block $loop"
require out_asm "dword ptr [rdi + 8]"
require out_asm "qword ptr [rdi + 0xa8]"
require out_asm "qword ptr [rdi + 0xb0]"
require out_asm "jmp <host>"
require out_asm ", -1"
[ "$(grep -c "exec $loop \[interp\]" "$work/exec")" = 3 ] || require exec "three interpreted runs of the loop"
require exec "exec $loop [jit]"
require cpu "x10/a0   0000000000000005 x11/a1   0000000000000004"
require cpu "x10/a0   0000000000000009 x11/a1   0000000000000003"
require gdb "a0             0x0"
require gdb "a1             0x5"
require gdb "exited normally"

# Fill the template.
out="$work/guide.md"
while IFS= read -r line; do
  if [[ $line =~ ^@@([a-z_]+)@@$ ]]; then
    f="$work/${BASH_REMATCH[1]}"
    [ -f "$f" ] || { echo "gen-guide: unknown placeholder $line" >&2; exit 1; }
    cat "$f"
  else
    printf '%s\n' "$line"
  fi
done < docs/guide.md.in > "$out"

if [ "$mode" = check ]; then
  if ! diff -u docs/guide.md "$out"; then
    echo "gen-guide: docs/guide.md is stale; run scripts/gen-guide.sh and commit the result" >&2
    exit 1
  fi
  echo "gen-guide: docs/guide.md is up to date"
else
  cp "$out" docs/guide.md
  echo "gen-guide: wrote docs/guide.md"
fi
