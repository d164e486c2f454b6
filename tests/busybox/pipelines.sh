# busybox ash pipelines and forks with in-process applets (awk, sort, head, cut, md5sum,
# seq, expr): multi-stage pipes, subshells in pipes, while-read loops, command
# substitution, background jobs and wait.
seq 1 2000 | awk '{ s += $1 } END { print "sum", s }'
seq 1 50 | sort -r | head -n 3
printf 'pear\napple\nfig\napple\nkiwi\nfig\n' | sort -u
printf 'b 2\na 10\nc 1\n' | sort -k2,2n
printf 'x:1:foo\ny:2:bar\nz:3:baz\n' | cut -d: -f2,3
( echo one; echo two; echo three ) | sort
{ echo left; echo right; } | awk '{ print NR ": " $0 }'
seq 1 10 | while read -r n; do [ $((n % 3)) -eq 0 ] && echo "div3 $n"; done
count=0
for f in $(seq 1 20); do count=$((count + f)); done
echo "command substitution loop: $count"
echo "nested: $(echo "inner $(echo deepest | awk '{print toupper($0)}')")"
seq 1 10000 | md5sum
seq 1 500 | awk '{ printf "%s,%d\n", $1, $1 * $1 }' | sort -t, -k2,2nr | head -n 2
(exit 7) & wait $!; echo "background status $?"
( i=0; while [ $i -lt 200 ]; do i=$((i + 1)); done; echo "bg done" ) & wait
gen() { for i in 1 2 3; do echo "gen $i"; done; }
upper() { while read -r l; do echo "$l" | awk '{ print toupper($0) }'; done; }
gen | upper
echo "expr: $(expr 7 \* 6) $(expr length hello) $(expr substr abcdef 2 3)"
r=$(printf 'a\nb\nc\n' | awk 'END { print NR }'); echo "lines=$r"
pids=""
for i in 1 2 3 4; do ( exit $i ) & pids="$pids $!"; done
total=0; for p in $pids; do wait $p; total=$((total + $?)); done
echo "waited for 4 jobs, status total $total"
exit 0
