# busybox ash traps and signals: EXIT trap, trapped USR1/USR2 sent with kill to the
# shell itself, ignored signals, resetting a trap, killing background jobs (with and
# without a trap of their own) and reading their statuses.
trap 'echo "exit trap runs"' EXIT
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap 'echo "got USR2 ($n)"' USR2
for n in 1 2 3; do kill -USR2 $$; done
trap '' INT
kill -INT $$
echo "INT ignored"
trap - USR2
# a background subshell with its own TERM trap; it says when the trap is in place
( trap 'echo "subshell got TERM"; exit 5' TERM; : > ready1; while :; do :; done ) &
sub=$!
while [ ! -e ready1 ]; do :; done
kill -TERM $sub
wait $sub; echo "trapping subshell status $?"
# a background subshell without traps, killed by USR1
( : > ready2; while :; do :; done ) &
sub=$!
while [ ! -e ready2 ]; do :; done
kill -USR1 $sub
wait $sub; echo "plain subshell killed by USR1: status $?"
( while :; do :; done ) & bg=$!
kill -TERM $bg
wait $bg; echo "killed spinning job status $?"
trap 'echo "trap on HUP"' HUP
kill -HUP $$
rm -f ready1 ready2
echo "end"
