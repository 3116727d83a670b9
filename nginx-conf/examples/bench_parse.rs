//! Times `nginx_conf::parse` (the library call, no JSON output) on a file.
//!
//! `cargo run --release -p nginx-conf --example bench_parse -- FILE [RUNS]`
//! prints the best and median wall time over RUNS parses (default 10).

use std::time::Instant;

use nginx_conf::{parse, ParseOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: bench_parse FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(10);
    let mut times = Vec::with_capacity(runs);
    let mut statements = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let payload = parse(&file, &ParseOptions::default());
        times.push(start.elapsed());
        statements = payload
            .config
            .iter()
            .map(|c| count(&c.parsed))
            .sum::<usize>();
        assert_eq!(payload.status, "ok", "{:?}", payload.errors.first());
    }
    let payload = parse(&file, &ParseOptions::default());
    let mut json_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut out = Vec::with_capacity(1 << 24);
        nginx_conf::json::write_compact(&mut out, &payload).expect("in-memory write");
        json_times.push(start.elapsed());
    }
    json_times.sort();
    times.sort();
    println!(
        "JSON rendering: best {:.1} ms, median {:.1} ms",
        json_times[0].as_secs_f64() * 1000.0,
        json_times[runs / 2].as_secs_f64() * 1000.0
    );
    println!(
        "nginx-conf parse: best {:.1} ms, median {:.1} ms over {runs} runs ({statements} directives)",
        times[0].as_secs_f64() * 1000.0,
        times[runs / 2].as_secs_f64() * 1000.0
    );
}

fn count(stmts: &[nginx_conf::Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| 1 + s.block.as_deref().map_or(0, count))
        .sum()
}
