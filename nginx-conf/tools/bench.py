#!/usr/bin/env python3
"""Benchmark nginx-conf against crossplane 0.5.8 on a generated config
(10,000 servers, 50,000 locations). Run from the workspace root:

    python3 nginx-conf/tools/bench.py

Reports, per tool, the median wall time and CPU time (user+sys) of the CLI
(`parse FILE -o OUT`), its peak RSS, and the ratios; then the library parse
alone (nginx_conf::parse vs crossplane.parse). CPU time is the robust figure
on a shared machine.
"""
import filecmp
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.setdefault("CARGO_TARGET_DIR", "/tmp/target-nginx-conf")
CONF = "/tmp/nginx-conf-bench.conf"


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def peak_rss_kb(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True,
                         stderr=subprocess.PIPE, text=True).stderr
    return int(out.strip().splitlines()[-1])


def measure(name, cmd, runs):
    walls, cpus = zip(*(run(cmd) for _ in range(runs)))
    rss = peak_rss_kb(cmd)
    w, c = statistics.median(walls), statistics.median(cpus)
    print(f"{name}: median wall {w * 1000:.0f} ms, median CPU {c * 1000:.0f} ms, "
          f"peak RSS {rss / 1024:.1f} MiB ({runs} runs)")
    return w, c, rss


def main():
    os.chdir(ROOT)
    subprocess.run([sys.executable, "nginx-conf/tools/gen_bench_config.py", CONF, "10000", "5"], check=True)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "nginx-conf", "--bin", "nginx-conf",
                    "--example", "bench_parse"], check=True)
    size = os.path.getsize(CONF)
    print(f"config: {size} bytes ({size / 2**20:.1f} MiB), 10000 servers, 50000 locations")
    ours_out, theirs_out = "/tmp/nginx-conf-bench.ours.json", "/tmp/nginx-conf-bench.crossplane.json"
    ours = measure("nginx-conf parse", [f"{TARGET}/release/nginx-conf", "parse", CONF, "-o", ours_out], 9)
    theirs = measure("crossplane parse", ["crossplane", "parse", CONF, "-o", theirs_out], 3)
    print("outputs byte-identical:", filecmp.cmp(ours_out, theirs_out, shallow=False))
    print(f"CLI speed-up: wall {theirs[0] / ours[0]:.0f}x, CPU {theirs[1] / ours[1]:.0f}x; "
          f"nginx-conf peak RSS = {ours[2] * 1024 / size:.1f}x the file size")
    subprocess.run([f"{TARGET}/release/examples/bench_parse", CONF, "15"], check=True)
    import crossplane
    times = []
    for _ in range(3):
        start = time.perf_counter()
        crossplane.parse(CONF)
        times.append(time.perf_counter() - start)
    print(f"crossplane.parse: median {statistics.median(times) * 1000:.0f} ms over 3 runs")


if __name__ == "__main__":
    main()
