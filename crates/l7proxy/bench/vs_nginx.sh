#!/usr/bin/env bash
# l7proxy vs nginx 1.22 as a reverse proxy, same file, same run:
# wrk on loopback, one worker each, keep-alive clients, upstream keepalive.
# Usage: crates/l7proxy/bench/vs_nginx.sh [SECONDS] [CONNECTIONS] [BODY_BYTES]
set -euo pipefail
secs=${1:-10}; conns=${2:-50}; body=${3:-2}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cargo build -q --release -p l7proxy --manifest-path "$root/Cargo.toml"
bin="$root/target/release/l7proxy"
dir=$(mktemp -d); trap 'kill $(cat "$dir"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$dir"' EXIT
payload=$(head -c "$body" /dev/zero | tr '\0' x)
temp="client_body_temp_path $dir/cb; proxy_temp_path $dir/pt; fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;"
# The backend: nginx answering from memory.
cat > "$dir/backend.conf" <<CONF
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log;
events { worker_connections 4096; }
http { access_log off; $temp
  server { listen 127.0.0.1:19001 backlog=4096; location / { return 200 "$payload"; } } }
CONF
front() { # NAME PORT PIDFILE
cat > "$dir/$1.conf" <<CONF
worker_processes 1; pid $3; error_log $dir/$1.log;
events { worker_connections 4096; }
http { access_log off; $temp
  upstream be { server 127.0.0.1:19001; keepalive 64; }
  server { listen 127.0.0.1:$2 backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
}
front nginx 19002 "$dir/nginx.pid"
front ours 19003 "$dir/ours.pid"
nginx -p "$dir" -e "$dir/err.log" -c "$dir/backend.conf"
nginx -p "$dir" -e "$dir/err.log" -c "$dir/nginx.conf"
"$bin" -c "$dir/ours.conf" >"$dir/ours.out" 2>&1 &
sleep 1
for p in 19001 19002 19003; do curl -sf "http://127.0.0.1:$p/" >/dev/null || { echo "port $p not answering"; exit 1; }; done
run() { wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$1/" | awk -v n="$2" '
  /Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /^ +50%/ {p50=$2}
  END {printf "%-8s %10s req/s  p50 %-8s p99 %s\n", n, rps, p50, p99}'; }
echo "wrk -t1 -c$conns -d${secs}s, body $body bytes, 1 worker each, upstream keepalive 64"
run 19001 backend
for round in 1 2; do run 19002 nginx; run 19003 l7proxy; done
