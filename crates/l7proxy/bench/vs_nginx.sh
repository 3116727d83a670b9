#!/usr/bin/env bash
# l7proxy vs nginx 1.22 as a reverse proxy, same file, same run:
# wrk on loopback, one worker each, upstream keepalive 64, HTTP/1.1 upstream.
#
# Usage: crates/l7proxy/bench/vs_nginx.sh [SECONDS] [CONNECTIONS] [WORKLOADS] [ROUNDS]
#   WORKLOADS: comma-separated list of
#     N       keep-alive clients, N-byte response body (2, 1024, 65536 are served)
#     close   a new connection per request (`Connection: close`), 2-byte body
#   ROUNDS: nginx and ours alternate this many times per workload (default 3);
#   the last line of each workload gives the median ratio and p99s.
# Example: vs_nginx.sh 5 50 2,1024,65536,close 3
# FLOOR=1: also measure the two byte relays of crates/l7proxy/examples
# (floor: epoll, floor_uring: io_uring) that pair each client connection
# with one upstream connection and do no HTTP at all: the most any proxy
# could reach here (keep-alive workloads only; they connect per client).
# Each wrk run takes SECONDS; total time is about
# SECONDS * (1 + 2 * ROUNDS * workloads) plus a few seconds of set-up.
set -euo pipefail
secs=${1:-10}; conns=${2:-50}; workloads=${3:-2}; rounds=${4:-3}
root=$(cd "$(dirname "$0")/../../.." && pwd)
# OURS=path: measure that binary instead (e.g. an older build).
if [ -n "${OURS:-}" ]; then bin=$OURS; else
  cargo build -q --release -p l7proxy --manifest-path "$root/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$root/target}/release/l7proxy"
fi
dir=$(mktemp -d); trap 'kill $(cat "$dir"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$dir"' EXIT
temp="client_body_temp_path $dir/cb; proxy_temp_path $dir/pt; fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;"
mkdir -p "$dir/www"; chmod 755 "$dir" "$dir/www" # nginx workers run as nobody
head -c 65536 /dev/zero | tr '\0' x >"$dir/www/65536"
kb=$(head -c 1024 /dev/zero | tr '\0' x)
# The backend: nginx answering from memory (2 B, 1 KB) or a file (64 KB:
# nginx refuses a literal that long in `return`).
cat > "$dir/backend.conf" <<CONF
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log;
events { worker_connections 4096; }
http { access_log off; $temp
  server { listen 127.0.0.1:19001 backlog=4096; root $dir/www;
    location = /2 { return 200 "xx"; }
    location = /1024 { return 200 "$kb"; }
    location / { } } }
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
# CPUs (PIN=1, the default): wrk alone on cpu 1, the front under test and
# the backend on cpu 0, so the front's cost per request sets the rate
# (with the front alone on a core, wrk and the backend sharing the other
# are the limit). PIN=0: no pinning, everything shares both cores.
if [ "${PIN:-1}" = 1 ]; then on0=(taskset -c 0); on1=(taskset -c 1); else on0=(); on1=(); fi
"${on0[@]}" nginx -p "$dir" -e "$dir/err.log" -c "$dir/backend.conf"
"${on0[@]}" nginx -p "$dir" -e "$dir/err.log" -c "$dir/nginx.conf"
# Ours starts as nginx does (`daemon on`: its own session), not as a child
# of this script: with the kernel's autogroups (sched_autogroup_enabled) a
# process left in this script's session shares its CPU weight with wrk,
# and the backend then preempts it about 3x as often as it preempts a
# daemonized front (0.54 against 0.14 switches per request, same binary).
"${on0[@]}" "$bin" -c "$dir/ours.conf" >"$dir/ours.out" 2>&1
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:19003/2" && break; sleep 0.1
done
ours_pid=$(cat "$dir/ours.pid")
floors=()
if [ "${FLOOR:-0}" = 1 ]; then
  cargo build -q --release -p l7proxy --examples --manifest-path "$root/Cargo.toml"
  ex="${CARGO_TARGET_DIR:-$root/target}/release/examples"
  setsid "${on0[@]}" "$ex/floor" 127.0.0.1:19004 127.0.0.1:19001 >"$dir/floor.out" 2>&1 &
  echo $! >"$dir/floor.pid"
  setsid "${on0[@]}" "$ex/floor_uring" 127.0.0.1:19005 127.0.0.1:19001 >"$dir/uring.out" 2>&1 &
  echo $! >"$dir/uring.pid"
  sleep 0.3; floors=(19004 19005)
fi
for p in 19001 19002 19003 "${floors[@]}"; do
  for f in 2 1024 65536; do
    n=$(curl -sf "http://127.0.0.1:$p/$f" | wc -c) || { echo "port $p not answering"; exit 1; }
    [ "$n" = "$f" ] || { echo "port $p /$f: $n bytes"; exit 1; }
  done
done
nginx_worker=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
backend_worker=$(pgrep -P "$(cat "$dir/backend.pid")" | head -1)
# CPU time (user + system, clock ticks) of a process so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# wrk PORT PATH [HEADER...] -> "rps p50 p99 cpu" (latencies in ms; cpu: the
# front's CPU time per request in microseconds, steadier than req/s when
# other work shares the machine)
run() { local port=$1 path=$2 pid; shift 2
  case $port in 19001) pid=$backend_worker;; 19002) pid=$nginx_worker;; 19003) pid=$ours_pid;;
    19004) pid=$(cat "$dir/floor.pid");; *) pid=$(cat "$dir/uring.pid");; esac
  local t0; t0=$(ticks "$pid")
  "${on1[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "http://127.0.0.1:$port$path" >"$dir/wrk.out"
  awk -v t="$(( $(ticks "$pid") - t0 ))" -v hz="$hz" '
  function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
  /requests in/ {n=$1} /Requests\/sec/ {rps=$2} /^ +99%/ {p99=ms($2)} /^ +50%/ {p50=ms($2)}
  END {printf "%.0f %.3f %.3f %.1f\n", rps, p50, p99, (n > 0) ? t / hz * 1e6 / n : 0}' "$dir/wrk.out"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "wrk -t1 -c$conns -d${secs}s, 1 worker each, PIN=${PIN:-1}, upstream keepalive 64"
printf '%-9s %-6s %10s %9s %9s %11s %7s\n' workload who req/s p50ms p99ms cpu_us/req ratio
for w in ${workloads//,/ }; do
  hdr=(); path=/$w
  if [ "$w" = close ]; then hdr=(-H "Connection: close"); path=/2; fi
  read -r b _ b99 bc < <(run 19001 "$path" "${hdr[@]}")
  printf '%-9s %-6s %10s %9s %9s %11s\n' "$w" backend "$b" - "$b99" "$bc"
  : >"$dir/ratios"; : >"$dir/p99n"; : >"$dir/p99o"; : >"$dir/cpun"; : >"$dir/cpuo"
  for r in $(seq "$rounds"); do
    read -r n n50 n99 nc < <(run 19002 "$path" "${hdr[@]}")
    read -r o o50 o99 oc < <(run 19003 "$path" "${hdr[@]}")
    ratio=$(awk -v a="$o" -v b="$n" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
    printf '%-9s %-6s %10s %9s %9s %11s\n' "$w" nginx "$n" "$n50" "$n99" "$nc"
    printf '%-9s %-6s %10s %9s %9s %11s %7s\n' "$w" ours "$o" "$o50" "$o99" "$oc" "$ratio"
    echo "$ratio" >>"$dir/ratios"; echo "$n99" >>"$dir/p99n"; echo "$o99" >>"$dir/p99o"
    echo "$nc" >>"$dir/cpun"; echo "$oc" >>"$dir/cpuo"
    for f in "${floors[@]}"; do
      read -r o o50 o99 oc < <(run "$f" "$path" "${hdr[@]}")
      ratio=$(awk -v a="$o" -v b="$n" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
      who=floor; [ "$f" = 19005 ] && who=uring
      printf '%-9s %-6s %10s %9s %9s %11s %7s\n' "$w" "$who" "$o" "$o50" "$o99" "$oc" "$ratio"
      echo "$ratio" >>"$dir/ratios.$who"
    done
  done
  for who in floor uring; do
    [ -s "$dir/ratios.$who" ] && printf '%-9s %s median ratio to nginx %s\n' "$w" "$who" "$(median <"$dir/ratios.$who")"
    rm -f "$dir/ratios.$who"
  done
  printf '%-9s median ratio %s, p99 nginx %s / ours %s ms, cpu/req nginx %s / ours %s us\n' "$w" \
    "$(median <"$dir/ratios")" "$(median <"$dir/p99n")" "$(median <"$dir/p99o")" \
    "$(median <"$dir/cpun")" "$(median <"$dir/cpuo")"
done
