//! `-R`: commands from standard input, one per line, split as ipvsadm's
//! `config_stream_read` splits them; table changes are pipelined.

use ipvs::Op;

use crate::args::{self, Cmd};
use crate::run::{execute, report_stop, table_op, Ctx, Flow, Io};
use crate::text::{ipvs_strerror, Func};

/// Requests pipelined before results are read back.
const PIPELINE: usize = 4096;

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Splits `input` into command lines as `config_stream_read` does: words
/// separated by blanks, a line ends at `\n`; every word `ipvsadm` is
/// dropped; blanks then end of input lose the unfinished line. Each line
/// starts with `program` (its `argv[0]`).
pub fn lines(input: &[u8], program: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = input.len();
    'lines: loop {
        let mut line = vec![program.to_owned()];
        let mut words = 0;
        loop {
            if i >= n {
                if words > 0 {
                    out.push(line);
                }
                return out;
            }
            if is_blank(input[i]) {
                // fscanf matched nothing: skip blanks up to a newline.
                loop {
                    let Some(&c) = input.get(i) else {
                        return out;
                    };
                    i += 1;
                    match c {
                        b'\n' => {
                            out.push(line);
                            continue 'lines;
                        }
                        b' ' | b'\t' | b'\r' => {}
                        _ => {
                            i -= 1;
                            break;
                        }
                    }
                }
                continue;
            }
            let start = i;
            while i < n && !is_blank(input[i]) {
                i += 1;
            }
            let word = String::from_utf8_lossy(&input[start..i]).into_owned();
            if word != "ipvsadm" {
                words += 1;
                line.push(word);
            }
            if i < n {
                let tail = input[i];
                i += 1;
                if tail == b'\n' {
                    out.push(line);
                    continue 'lines;
                }
            }
        }
    }
}

/// Applies the pending table changes; prints their errors in order and
/// returns the status of the last one.
fn flush(pending: &mut Vec<(Op, Func)>, ctx: &mut Ctx, io: &mut Io) -> i32 {
    if pending.is_empty() {
        return 0;
    }
    let ops: Vec<Op> = pending.iter().map(|(o, _)| o.clone()).collect();
    let results = ctx.client.apply_ops(&ops);
    let mut status = 0;
    for ((_, func), r) in pending.iter().zip(results) {
        status = match r {
            Ok(()) => 0,
            Err(e) => {
                let msg = e
                    .errno()
                    .map_or_else(|| e.to_string(), |errno| ipvs_strerror(*func, errno));
                io.err(&format!("{msg}\n"));
                -1
            }
        };
    }
    pending.clear();
    status
}

/// Runs every line of `input`; the status is the last command's.
pub fn run(input: &[u8], ctx: &mut Ctx, io: &mut Io) -> Flow {
    let program = ctx.program.clone();
    let mut result = 0;
    let mut pending: Vec<(Op, Func)> = Vec::new();
    for argv in lines(input, &program) {
        if argv.len() <= 1 {
            continue;
        }
        let parsed = args::parse(&argv, &mut ctx.names);
        if let Ok(e) = &parsed {
            if let Some(op) = table_op(e) {
                pending.push(op);
                if pending.len() >= PIPELINE {
                    result = flush(&mut pending, ctx, io);
                }
                continue;
            }
        }
        flush(&mut pending, ctx, io);
        let flow = match parsed {
            Err(stop) => report_stop(stop, io),
            Ok(e) if e.cmd == Cmd::Restore => report_stop(args::try_help(&program), io),
            Ok(e) => execute(&e, ctx, io),
        };
        match flow {
            Flow::Exit(code) => return Flow::Exit(code),
            Flow::Status(s) => result = s,
        }
    }
    if !pending.is_empty() {
        result = flush(&mut pending, ctx, io);
    }
    Flow::Status(result)
}

#[cfg(test)]
mod tests {
    use super::lines;

    fn words(input: &str) -> Vec<Vec<String>> {
        lines(input.as_bytes(), "P")
    }

    #[test]
    fn lines_split_like_config_stream_read() {
        assert_eq!(
            words("ipvsadm -A -t x:1\n\n  -C\t\r\n-L ipvsadm -n"),
            vec![
                vec!["P", "-A", "-t", "x:1"],
                vec!["P"],
                vec!["P", "-C"],
                vec!["P", "-L", "-n"],
            ]
        );
    }

    #[test]
    fn blanks_at_end_of_input_lose_the_line() {
        assert_eq!(words("-C\n-L  "), vec![vec!["P", "-C"]]);
        assert_eq!(words("-C\n-L "), vec![vec!["P", "-C"], vec!["P", "-L"]]);
        assert_eq!(words("-C\nipvsadm"), vec![vec!["P", "-C"]]);
        assert!(words("").is_empty());
    }
}
