#!/usr/bin/env bash
# User-space instructions per proxied request of one l7proxy binary
# (callgrind, startup included; wrk -t1 -c10 -d5s, 2-byte body, backend
# nginx on 127.0.0.1:19111, front on 19112).
# Usage: crates/l7proxy/bench/insns.sh BIN plain|rules
#   plain: a location with no response-side directives;
#   rules: the same with add_header and proxy_hide_header.
# Prints the X- headers the client saw, then
# "VARIANT REQUESTS INSTRUCTIONS INSTRUCTIONS/REQUEST".
set -euo pipefail
bin=$1; variant=$2; dir=$(mktemp -d)
trap 'kill $(cat "$dir"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$dir"' EXIT
temp="client_body_temp_path $dir/cb; proxy_temp_path $dir/pt; fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;"
cat > "$dir/backend.conf" <<CONF
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log;
events { worker_connections 4096; }
http { access_log off; $temp
  server { listen 127.0.0.1:19111 backlog=4096;
    location = /2 { add_header X-B b; return 200 "xx"; } } }
CONF
rules=""
[ "$variant" = rules ] && rules='add_header X-A "v $status"; proxy_hide_header X-B;'
cat > "$dir/front.conf" <<CONF
worker_processes 1; pid $dir/front.pid; error_log $dir/front.log;
events { worker_connections 4096; }
http { access_log off; $temp
  upstream be { server 127.0.0.1:19111; keepalive 64; }
  server { listen 127.0.0.1:19112 backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; $rules } } }
CONF
nginx -p "$dir" -e "$dir/err.log" -c "$dir/backend.conf"
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" -g 'daemon off;' -c "$dir/front.conf" 2>"$dir/vg.log" &
vg=$!
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:19112/2 && break; sleep 0.2; done
curl -si http://127.0.0.1:19112/2 | tr -d '\r' | grep -i '^x-' | tr '\n' ' '
out=$(wrk -t1 -c10 -d5s http://127.0.0.1:19112/2)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
kill -TERM $vg; wait $vg || true
irefs=$(awk '/Collected :/ {print $4}' "$dir/vg.log")
echo "$variant $reqs $irefs $(( irefs / reqs ))"
