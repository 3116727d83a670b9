//! The subset of libpopt's command-line scanning that ipvsadm relies on.
//!
//! ipvsadm parses its arguments with popt, and its error messages name
//! what popt saw (`-LQ: unknown option`, `invalid option `-list'`). clap and
//! getopt split clusters, `=` and optional arguments differently, so this
//! module reproduces popt 1.19's rules instead:
//!
//! * options and plain arguments may be interleaved; plain arguments are
//!   collected as leftovers; `--` makes every later word a leftover;
//! * `--name`, `--name=value`, `--name value` (no abbreviations; a single
//!   dash never introduces a long name);
//! * `-abc` is a cluster of short options; an option taking an argument
//!   takes the rest of the cluster (`-srr`, `-s=rr`) or the next word
//!   (whatever it starts with), an *optional* argument only a next word not
//!   starting with `-`;
//! * errors report the whole word being scanned.

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Required,
    Optional,
}

/// One entry of the option table.
#[derive(Debug, Clone, Copy)]
pub struct Spec<T: 'static> {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: ArgKind,
    pub tag: T,
}

/// popt's scanning errors (`poptStrerror`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// `POPT_ERROR_BADOPT`.
    Unknown,
    /// `POPT_ERROR_NOARG`.
    MissingArgument,
    /// `POPT_ERROR_UNWANTEDARG`: `--flag=value`.
    UnwantedArgument,
}

impl ScanError {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Unknown => "unknown option",
            Self::MissingArgument => "missing argument",
            Self::UnwantedArgument => "option does not take an argument",
        }
    }
}

/// A scanner over `argv` (element 0 is the program name).
#[derive(Debug)]
pub struct Scanner<'a, T: 'static> {
    table: &'static [Spec<T>],
    argv: &'a [String],
    next: usize,
    /// Rest of a short-option cluster: (word index, byte offset).
    cluster: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<&'a str>,
    next_leftover: usize,
}

impl<'a, T: Copy + 'static> Scanner<'a, T> {
    pub fn new(table: &'static [Spec<T>], argv: &'a [String]) -> Self {
        Self {
            table,
            argv,
            next: 1,
            cluster: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            next_leftover: 0,
        }
    }

    /// The word popt blames in error messages (`poptBadOption`).
    pub fn bad_option(&self) -> &'a str {
        self.argv
            .get(self.next.saturating_sub(1))
            .map_or("", String::as_str)
    }

    /// The next leftover argument (`poptGetArg`).
    pub fn leftover(&mut self) -> Option<&'a str> {
        let a = self.leftovers.get(self.next_leftover).copied();
        if a.is_some() {
            self.next_leftover += 1;
        }
        a
    }

    /// The next option and its argument; `None` when the words run out.
    pub fn next_opt(&mut self) -> Option<Result<(T, Option<&'a str>), ScanError>> {
        let argv = self.argv;
        let (spec, long_arg) = loop {
            if let Some((w, off)) = self.cluster.take() {
                let word = &argv[w];
                let c = word[off..].chars().next()?;
                let Some(spec) = self.table.iter().find(|s| s.short == Some(c)) else {
                    return Some(Err(ScanError::Unknown));
                };
                let after = off + c.len_utf8();
                if after < word.len() {
                    let skip = usize::from(word.as_bytes()[after] == b'=');
                    self.cluster = Some((w, after + skip));
                }
                break (spec, None);
            }
            if self.next >= argv.len() {
                return None;
            }
            let w = self.next;
            let word = argv[w].as_str();
            self.next += 1;
            if self.rest_leftover || !word.starts_with('-') || word == "-" {
                self.leftovers.push(word);
                continue;
            }
            if word == "--" {
                self.rest_leftover = true;
                continue;
            }
            if let Some(body) = word.strip_prefix("--") {
                let (name, arg) = match body.split_once('=') {
                    Some((n, a)) => (n, Some(a)),
                    None => (body, None),
                };
                let Some(spec) = self.table.iter().find(|s| s.long == name) else {
                    return Some(Err(ScanError::Unknown));
                };
                break (spec, arg);
            }
            self.cluster = Some((w, 1));
        };
        match spec.kind {
            ArgKind::None => {
                if long_arg.is_some() {
                    return Some(Err(ScanError::UnwantedArgument));
                }
                Some(Ok((spec.tag, None)))
            }
            ArgKind::Required | ArgKind::Optional => {
                if let Some(a) = long_arg {
                    return Some(Ok((spec.tag, Some(a))));
                }
                if let Some((w, off)) = self.cluster.take() {
                    return Some(Ok((spec.tag, Some(&argv[w][off..]))));
                }
                if self.next >= argv.len() {
                    if spec.kind == ArgKind::Required {
                        return Some(Err(ScanError::MissingArgument));
                    }
                    return Some(Ok((spec.tag, None)));
                }
                let word = argv[self.next].as_str();
                if spec.kind == ArgKind::Optional && word.starts_with('-') {
                    return Some(Ok((spec.tag, None)));
                }
                self.next += 1;
                Some(Ok((spec.tag, Some(word))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ArgKind, ScanError, Scanner, Spec};

    static TABLE: &[Spec<char>] = &[
        Spec {
            long: "list",
            short: Some('L'),
            kind: ArgKind::None,
            tag: 'L',
        },
        Spec {
            long: "numeric",
            short: Some('n'),
            kind: ArgKind::None,
            tag: 'n',
        },
        Spec {
            long: "scheduler",
            short: Some('s'),
            kind: ArgKind::Required,
            tag: 's',
        },
        Spec {
            long: "persistent",
            short: Some('p'),
            kind: ArgKind::Optional,
            tag: 'p',
        },
    ];

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("ipvsadm")
            .chain(s.split(' ').filter(|w| !w.is_empty()))
            .map(str::to_owned)
            .collect()
    }

    type Scanned = Vec<Result<(char, Option<String>), (ScanError, String)>>;

    fn scan(s: &str) -> (Scanned, Vec<String>) {
        let a = argv(s);
        let mut sc = Scanner::new(TABLE, &a);
        let mut out = Vec::new();
        while let Some(r) = sc.next_opt() {
            match r {
                Ok((t, v)) => out.push(Ok((t, v.map(str::to_owned)))),
                Err(e) => {
                    out.push(Err((e, sc.bad_option().to_owned())));
                    break;
                }
            }
        }
        let mut left = Vec::new();
        while let Some(l) = sc.leftover() {
            left.push(l.to_owned());
        }
        (out, left)
    }

    #[test]
    fn clusters_and_attached_arguments() {
        let (o, _) = scan("-Ln -srr -s=wlc --scheduler=sh --scheduler lc");
        let want: Vec<_> = [
            ('L', None),
            ('n', None),
            ('s', Some("rr")),
            ('s', Some("wlc")),
            ('s', Some("sh")),
            ('s', Some("lc")),
        ]
        .into_iter()
        .map(|(t, v)| Ok((t, v.map(str::to_owned))))
        .collect();
        assert_eq!(o, want);
    }

    #[test]
    fn optional_argument_skips_dash_words() {
        let (o, _) = scan("-p -n -p 30");
        assert_eq!(
            o,
            vec![
                Ok(('p', None)),
                Ok(('n', None)),
                Ok(('p', Some("30".into())))
            ]
        );
        let (o, _) = scan("-s -n");
        assert_eq!(o, vec![Ok(('s', Some("-n".into())))]);
    }

    #[test]
    fn errors_blame_the_whole_word() {
        let (o, _) = scan("-L -LQ");
        assert_eq!(o[2], Err((ScanError::Unknown, "-LQ".into())));
        let (o, _) = scan("-L -s");
        assert_eq!(o[1], Err((ScanError::MissingArgument, "-s".into())));
        let (o, _) = scan("--numeric=5");
        assert_eq!(
            o[0],
            Err((ScanError::UnwantedArgument, "--numeric=5".into()))
        );
        let (o, _) = scan("--lis");
        assert_eq!(o[0], Err((ScanError::Unknown, "--lis".into())));
    }

    #[test]
    fn leftovers_and_double_dash() {
        let (o, l) = scan("foo -L - -- -n bar");
        assert_eq!(o, vec![Ok(('L', None))]);
        assert_eq!(l, vec!["foo", "-", "-n", "bar"]);
    }
}
