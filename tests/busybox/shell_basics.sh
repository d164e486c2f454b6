# busybox ash: variables, arithmetic, loops, functions, case, here-documents, parameter
# expansion, positional parameters, read, IFS, eval, exit statuses of subshells.
set -u
x=5; y=7
echo "arith: $((x * y + 3)) $(( (x << 4) | 1 )) $((y % x)) $((-x / 2)) $((1 ? 10 : 20))"
i=0; s=0
while [ $i -lt 100 ]; do i=$((i + 1)); s=$((s + i * i)); done
echo "sum of squares: $s"
for w in alpha beta "gamma delta"; do printf '[%s]' "$w"; done; echo
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
echo "fact 12 = $(fact 12)"
fib() { local a=0 b=1 n=$1 t; while [ $n -gt 0 ]; do t=$((a + b)); a=$b; b=$t; n=$((n - 1)); done; echo $a; }
echo "fib 50 = $(fib 50)"
for v in apple 42 x-y ""; do
  case "$v" in
    a*) echo "$v: starts with a";;
    [0-9]*) echo "$v: number";;
    *-*) echo "$v: has dash";;
    "") echo "(empty)";;
  esac
done
path=/usr/local/lib/libfoo.so.1.2
echo "${path##*/} ${path%/*} ${path#/usr} ${path%%.*} ${#path}"
unset maybe; echo "default: ${maybe:-fallback} ${maybe-unset2}"
name=world; echo "${name:+set} ${name:1:3}"
set -- one "two three" four
echo "argc=$# first=$1 all=$*"
shift; echo "after shift: $1 / $#"
awk '{ print }' <<END
here-doc with $name and $((2 + 2))
  indented line
END
awk '{ print }' <<'END'
quoted here-doc keeps $name
END
IFS=: read -r a b c <<END
f1:f2:f3:f4
END
echo "read: a=$a b=$b c=$c"
old_ifs=$IFS; IFS=,; set -- $(echo "p,q,r"); IFS=$old_ifs
echo "split: $# $2"
(exit 3); echo "subshell status $?"
false || echo "or-branch"
true && echo "and-branch"
! false && echo "negation"
cmd='echo evaluated $((6*7))'; eval "$cmd"
n=0; until [ $n -ge 3 ]; do n=$((n + 1)); done; echo "until: $n"
for i in 1 2 3 4 5 6; do [ $i -eq 2 ] && continue; [ $i -eq 5 ] && break; printf '%s ' $i; done; echo
printf '%5d|%-5s|%05.1f|%x|%o|%c|%%\n' 42 ab 3.14159 255 8 Z
echo "pid is a number: $([ "$$" -gt 0 ] && echo yes)"
test -d / && test ! -f /nonexistent && echo "test ok"
[ "abc" \< "abd" ] && echo "string compare ok"
exit 0
