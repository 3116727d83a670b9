#!/bin/sh
# Runs INSIDE the lab VM (one fresh boot per tool, so neither inherits the
# kernel's clean-up of the other's table). Usage:
#   cargo run -p netlab -- run -- sh ipvsadm-rs/bench/restore_list.sh IPVSADM [SERVICES] [DESTS]
# Prints: tool, services, dests, milliseconds for -R, -L -n, -S -n, and
# checks that the listing has every destination; for a tool other than
# /usr/sbin/ipvsadm, also that both listings are byte-identical to the real
# tool's on the same table (after the timed runs).
set -e
tool=${1:?ipvsadm binary}; services=${2:-10000}; dests=${3:-4}
modprobe ip_vs
rules=/tmp/rules
awk -v s="$services" -v d="$dests" 'BEGIN {
  for (i = 0; i < s; i++) {
    vip = sprintf("198.18.%d.%d", int(i / 250), i % 250 + 1)
    printf "-A -t %s:80 -s wlc\n", vip
    for (j = 0; j < d; j++) printf "-a -t %s:80 -r 198.19.%d.%d:8080 -m -w 1\n", vip, j, (i % 250) + 1
  }
}' > "$rules"
# Milliseconds a command takes (shell arithmetic on date's nanoseconds).
t() { start=$(date +%s%N); "$@"; end=$(date +%s%N); echo $(( (end - start) / 1000000 )); }
restore=$(t "$tool" -R < "$rules")
list=$(t sh -c "$tool -L -n > /tmp/list")
save=$(t sh -c "$tool -S -n > /tmp/save")
rows=$(grep -c -- '->' /tmp/list || true)
want=$((services * dests + 1))
[ "$rows" -eq "$want" ] || { echo "listing has $rows rows, want $want" >&2; exit 1; }
real=/usr/sbin/ipvsadm
if [ "$tool" != "$real" ] && [ -x "$real" ]; then
  "$real" -L -n > /tmp/list.real; "$real" -S -n > /tmp/save.real
  cmp -s /tmp/list /tmp/list.real || { echo "-L -n differs from $real" >&2; exit 1; }
  cmp -s /tmp/save /tmp/save.real || { echo "-S -n differs from $real" >&2; exit 1; }
fi
echo "$(basename "$tool") services=$services dests=$((services * dests)) restore=${restore}ms list=${list}ms save=${save}ms"
