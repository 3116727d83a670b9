#!/bin/sh
# VRRP benchmarks: failover time distributions and idle CPU/RSS with 100
# instances, keepalived 2.2.7 against vrrpd (docs/benchmarks.md, vrrp section).
#
#   vrrpd/bench/failover.sh [RUNS] [IMPLS] [BENCH]
#
# RUNS: failovers per scenario (default 20); IMPLS: keepalived,vrrpd (default
# both); BENCH: failover, idle_cpu_rss or both (default). Needs root,
# iproute2, tcpdump and keepalived. PROFILE=--release (default) builds vrrpd
# optimised; PROFILE= uses the debug build.
set -eu
cd "$(dirname "$0")/../.."
export VRRP_BENCH_RUNS="${1:-20}"
export VRRP_BENCH_IMPLS="${2:-keepalived,vrrpd}"
bench="${3:-}"
profile="${PROFILE---release}"
# shellcheck disable=SC2086 # $profile is empty or one flag
exec cargo test $profile -p vrrpd --test interop_bench -- --ignored --nocapture --test-threads 1 $bench
