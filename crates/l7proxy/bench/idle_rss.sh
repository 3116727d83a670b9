#!/usr/bin/env bash
# Memory with idle keep-alive clients: N connections (default 10000) each
# send one request, read the answer and stay open; then the VmRSS of the
# nginx worker process and of our process (one worker thread) is read.
# Same configuration file for both fronts (1 worker, upstream keepalive).
# Usage: crates/l7proxy/bench/idle_rss.sh [N] [BODY: 2 or 1024]
set -euo pipefail
n=${1:-10000}; body=${2:-2}
root=$(cd "$(dirname "$0")/../../.." && pwd)
# OURS=path: measure that binary instead (e.g. an older build).
if [ -n "${OURS:-}" ]; then bin=$OURS; else
  cargo build -q --release -p l7proxy --manifest-path "$root/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$root/target}/release/l7proxy"
fi
ulimit -n "$(ulimit -Hn)" # both sides need N + a few descriptors
[ "$(ulimit -n)" -gt $((n + 200)) ] || { echo "ulimit -n $(ulimit -n) is too low for $n"; exit 1; }
dir=$(mktemp -d); trap 'kill $(cat "$dir"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$dir"' EXIT
temp="client_body_temp_path $dir/cb; proxy_temp_path $dir/pt; fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;"
payload=$(head -c "$body" /dev/zero | tr '\0' x)
cat > "$dir/backend.conf" <<CONF
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log;
events { worker_connections 4096; }
http { access_log off; $temp
  server { listen 127.0.0.1:19011 backlog=4096; location / { return 200 "$payload"; } } }
CONF
# worker_connections 2N: nginx closes idle keep-alive connections when fewer
# than 1/16 of them are free.
front() { # NAME PORT PIDFILE
cat > "$dir/$1.conf" <<CONF
worker_processes 1; pid $3; error_log $dir/$1.log; worker_rlimit_nofile $(ulimit -n);
events { worker_connections $((n * 2)); }
http { access_log off; $temp
  upstream be { server 127.0.0.1:19011; keepalive 64; }
  server { listen 127.0.0.1:$2 backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
}
front nginx 19012 "$dir/nginx.pid"
front ours 19013 "$dir/ours.pid"
nginx -p "$dir" -e "$dir/err.log" -c "$dir/backend.conf"
nginx -p "$dir" -e "$dir/err.log" -c "$dir/nginx.conf"
"$bin" -g 'daemon off;' -c "$dir/ours.conf" >"$dir/ours.out" 2>&1 &
echo $! >"$dir/ours.pid"
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:19013/ && break; sleep 0.1; done
master=$(cat "$dir/nginx.pid")
nworker=$(pgrep -P "$master" | head -1)
ours=$(cat "$dir/ours.pid")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
echo "idle keep-alive clients: $n, body $body bytes; VmRSS in KiB"
printf '%-16s %10s %10s %10s %8s\n' front before with_idle per_conn closed
for who in nginx ours; do
  if [ $who = nginx ]; then port=19012; pid=$nworker; else port=19013; pid=$ours; fi
  before=$(rss "$pid")
  read -r after closed < <("$root/crates/l7proxy/bench/idle_client.py" $port "$n" / "$pid" 120)
  printf '%-16s %10s %10s %10s %8s\n' "$who" "$before" "$after" \
    "$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.2f", (a - b) / n}')" "$closed"
done
printf '%-16s %10s\n' "nginx master" "$(rss "$master")"
