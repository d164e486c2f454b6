# busybox text tools run in-process: awk (arrays, functions, printf, split, gsub, math),
# sort (keys, numeric, reverse, unique), head, cut, md5sum/sha256sum of files, and file
# operations (mkdir -p, cp, ls, rm -r).
awk 'BEGIN {
  for (i = 1; i <= 20; i++) sq[i] = i * i
  n = split("the quick brown fox jumps over the lazy dog", w, " ")
  for (i = 1; i <= n; i++) len[length(w[i])]++
  for (k = 1; k <= 5; k++) printf "len%d=%d ", k, len[k]
  print ""
  s = "hello world, hello awk"; c = gsub(/hello/, "bye", s); print c, s
  printf "%.6f %d %d %s\n", 1 / 3, int(-3.7), 1024 * 1024, toupper(substr("abcdef", 2, 3))
  print index("haystack", "st"), match("foobar", /o+b/), RSTART, RLENGTH
  print sprintf("%08.3f|%-6s|%+d", 3.14159, "ab", 5)
}'
awk 'function gcd(a, b) { while (b) { t = b; b = a % b; a = t } return a }
     BEGIN { print gcd(1071, 462), gcd(17, 5) }'
printf 'k1 3\nk2 1\nk1 4\nk3 1\nk2 5\n' | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:U:/home/user:/bin/ash\n' > passwd
awk -F: '$3 >= 1000 { print $1 " has shell " $7 }' passwd
cut -d: -f1,6 passwd
cut -c1-4 passwd
mkdir -p a/b/c
printf 'file one\n' > a/one.txt
printf 'file two\n' > a/b/two.txt
seq 1 3000 > a/b/c/numbers
cp a/one.txt a/b/c/copy.txt
ls -R a | awk 'NF'
md5sum a/one.txt a/b/two.txt a/b/c/numbers a/b/c/copy.txt
sha256sum a/b/c/numbers
sort -n -r a/b/c/numbers | head -n 3
awk 'NR % 1000 == 0' a/b/c/numbers
rm -r a
ls
exit 0
