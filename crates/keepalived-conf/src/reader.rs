//! Turns configuration files into keepalived's stream of logical lines:
//! comments removed, `@` conditionals, `$` parameters, `~SEQ`/`~LST`
//! generators and `include`s applied, and every `{`/`}` on a line of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostics, Location, Severity};
use crate::include;
use crate::lexer::{decomment, fgets_pieces, split_braces, split_words};
use crate::params::Definitions;
use crate::seq::{parse_lst, parse_seq, Generator};

/// How deep `include` may nest (keepalived has no limit and recurses forever
/// on a file that includes itself).
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// How deep generated text may nest (multi-line parameters that use
/// themselves, generators inside generators).
const MAX_NESTING: usize = 64;
/// Upper bound on logical lines, against exponential generators.
pub const MAX_LINES: usize = 2_000_000;

/// Options that change how lines are read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The `-i` config id; keepalived's default is the host name's first label.
    pub config_id: String,
    /// Seed for `${_RANDOM}` (the reader itself never reads a clock).
    pub random_seed: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            config_id: String::new(),
            random_seed: 1,
        }
    }
}

/// One logical line: a keyword and its arguments, or a lone brace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub words: Vec<String>,
    /// The text the words came from (for keywords that re-split it with
    /// `'` quotes and escapes, e.g. script command lines).
    pub raw: String,
    pub file: Option<Arc<Path>>,
    pub line: usize,
}

impl Line {
    pub fn location(&self) -> Location {
        Location {
            file: self.file.as_ref().map(|p| p.to_path_buf()),
            line: self.line,
        }
    }
}

// include_t bits of lib/parser.h
const INC_R: u8 = 1;
const INC_M: u8 = 2;
const INC_W: u8 = 4;
const INC_B: u8 = 8;

struct Reader<'d> {
    config_id: String,
    defs: Definitions,
    diags: &'d mut Diagnostics,
    out: Vec<Line>,
    multiline_def: Option<String>,
    block_depth: usize,
    include_depth: usize,
    nesting: usize,
    file: Option<Arc<Path>>,
    line_no: usize,
    too_many: bool,
    processed: usize,
}

/// Reads `path` and everything it includes.
pub fn read_config(path: &Path, opts: &ReadOptions, diags: &mut Diagnostics) -> Vec<Line> {
    let mut r = Reader::new(opts, diags);
    let cwd = PathBuf::from(".");
    let pattern = path.to_string_lossy().into_owned();
    r.include(&pattern, INC_R | INC_M | INC_W, &cwd);
    r.finish()
}

/// Reads configuration text held in memory, as if it were the file `name`
/// (includes are resolved relative to `name`'s directory).
pub fn read_str(text: &str, name: &Path, opts: &ReadOptions, diags: &mut Diagnostics) -> Vec<Line> {
    let mut r = Reader::new(opts, diags);
    r.read_text(text.as_bytes(), name);
    r.finish()
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl<'d> Reader<'d> {
    fn new(opts: &ReadOptions, diags: &'d mut Diagnostics) -> Self {
        Reader {
            config_id: opts.config_id.clone(),
            defs: Definitions::new(&opts.config_id, opts.random_seed),
            diags,
            out: Vec::new(),
            multiline_def: None,
            block_depth: 0,
            include_depth: 0,
            nesting: 0,
            file: None,
            line_no: 0,
            too_many: false,
            processed: 0,
        }
    }

    /// The lines read, after reporting blocks left open.
    fn finish(self) -> Vec<Line> {
        if self.block_depth > 0 {
            self.diags.report_global(
                Severity::MissingEob,
                format!(
                    "There are {} missing '}}'s or extra '{{'s",
                    self.block_depth
                ),
            );
        }
        self.out
    }
}

impl Reader<'_> {
    fn loc(&self) -> Location {
        Location {
            file: self.file.as_ref().map(|p| p.to_path_buf()),
            line: self.line_no,
        }
    }

    fn report(&mut self, severity: Severity, message: impl Into<String>) {
        let loc = self.loc();
        self.diags.report(severity, &loc, message);
    }

    /// Reports a file problem at keepalived's level: an error only when the
    /// include type asks for that class of check.
    fn file_error(&mut self, include_type: u8, class: u8, message: String) {
        let severity = if include_type & class == 0 {
            Severity::Info
        } else {
            Severity::FileNotFound
        };
        self.report(severity, message);
        // keepalived's parent stops after reading when an include it was
        // told to check fails (KEEPALIVED_EXIT_NO_CONFIG), -t or not. The
        // main file itself is our documented exception (exit 4).
        if severity == Severity::FileNotFound && self.include_depth > 0 {
            self.diags
                .stopped
                .get_or_insert(crate::diag::EXIT_NO_CONFIG);
        }
    }

    fn include(&mut self, pattern: &str, include_type: u8, base: &Path) {
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            self.report(
                Severity::Fatal,
                format!("include '{pattern}' nested more than {MAX_INCLUDE_DEPTH} deep - skipping"),
            );
            return;
        }
        let matches = include::resolve(pattern, base);
        let braces = include::expand_braces(pattern).len() > 1;
        for e in &matches.errors {
            self.file_error(
                include_type,
                INC_R,
                format!("Error reading config file(s): {e}, skipping."),
            );
        }
        if matches.files.is_empty() {
            if !matches.missing.is_empty() {
                let class = if braces { INC_B } else { INC_M };
                self.file_error(
                    include_type,
                    class,
                    format!("Config files missing '{pattern}'."),
                );
            } else if include_type & INC_W != 0 {
                self.file_error(
                    include_type,
                    INC_W,
                    format!("No config files matched '{pattern}'."),
                );
            } else {
                self.report(
                    Severity::Info,
                    format!("No config files matched '{pattern}'."),
                );
            }
            return;
        } else if !matches.missing.is_empty() {
            self.file_error(
                include_type,
                INC_B,
                format!("Some config files missing: \"{pattern}\"."),
            );
            if include_type & INC_B != 0 {
                return;
            }
        }
        for file in matches.files {
            if file.is_dir() {
                self.file_error(
                    include_type,
                    INC_R,
                    format!(
                        "Configuration file '{}/' is a directory - skipping",
                        file.display()
                    ),
                );
                continue;
            }
            match std::fs::read(&file) {
                Ok(bytes) => {
                    if !is_plain_file(&file) {
                        self.file_error(
                            include_type,
                            INC_R,
                            format!(
                                "Configuration file '{}' is not a regular non-executable file - skipping",
                                file.display()
                            ),
                        );
                        continue;
                    }
                    self.include_depth += 1;
                    self.read_text(&bytes, &file);
                    self.include_depth -= 1;
                }
                Err(e) => self.file_error(
                    include_type,
                    INC_R,
                    format!(
                        "Configuration file '{}' open problem ({e}) - skipping",
                        file.display()
                    ),
                ),
            }
        }
    }

    fn read_text(&mut self, bytes: &[u8], name: &Path) {
        let saved_file = self.file.replace(Arc::from(name));
        let saved_line = std::mem::replace(&mut self.line_no, 0);
        let dir = dir_of(name);
        self.defs.set_pwd(&dir.to_string_lossy());
        for physical in bytes.split(|b| *b == b'\n') {
            self.line_no += 1;
            for piece in fgets_pieces(physical) {
                let piece = piece.trim_end_matches(['\r', '\n']);
                if piece.is_empty() {
                    if let Some(name) = self.multiline_def.take() {
                        self.defs.end_definition(&name);
                    }
                    continue;
                }
                let first = decomment(piece);
                if first.unterminated_quote {
                    self.report(
                        Severity::GeneralError,
                        format!("Unterminated quote '{}'", first.text),
                    );
                }
                // keepalived's VRRP and checker processes read a copy of the
                // file that the parent already decommented, and decomment it
                // again: a `\#` or `\!` survives the first pass as `#`/`!`
                // and starts a comment in the second.
                let d = decomment(&first.text);
                if d.text.is_empty() {
                    // keepalived's processes read a decommented copy of the
                    // file, where this line is empty: it ends a definition.
                    if let Some(name) = self.multiline_def.take() {
                        self.defs.end_definition(&name);
                    }
                    continue;
                }
                if let Some(name) = self.multiline_def.clone() {
                    if include_directive(&d.text).is_some() {
                        // The copy keepalived's processes read has an empty
                        // line here: the definition ends, nothing is included.
                        self.defs.end_definition(&name);
                        self.multiline_def = None;
                        continue;
                    }
                    if !self.defs.continue_definition(&name, &d.text) {
                        self.multiline_def = None;
                    }
                    continue;
                }
                self.process(d.text);
                if self.too_many {
                    break;
                }
            }
        }
        if let Some(prev) = &saved_file {
            self.defs.set_pwd(&dir_of(prev).to_string_lossy());
        }
        self.file = saved_file;
        self.line_no = saved_line;
    }

    /// Handles one line after comment removal (keepalived's `read_line` loop).
    fn process(&mut self, text: String) {
        self.processed += 1;
        if self.processed > MAX_LINES {
            if !self.too_many {
                self.report(
                    Severity::Fatal,
                    format!("Configuration expands to more than {MAX_LINES} lines - stopping"),
                );
            }
            self.too_many = true;
        }
        if self.too_many {
            return;
        }
        if self.nesting >= MAX_NESTING {
            self.report(
                Severity::GeneralError,
                format!("Expansion nested too deeply, line dropped: '{text}'"),
            );
            return;
        }
        self.nesting += 1;
        self.process_inner(text);
        self.nesting -= 1;
    }

    fn process_inner(&mut self, text: String) {
        let mut buf = text;
        let mut more_lines = Vec::new();
        let mut rounds = 0;
        loop {
            if buf.starts_with('@') {
                let (negate, ofs) = if buf[1..].starts_with('^') {
                    (true, 2)
                } else {
                    (false, 1)
                };
                let Some(ws) = buf[ofs..].find([' ', '\t']) else {
                    return;
                };
                let id = &buf[ofs..ofs + ws];
                let matches = !self.config_id.is_empty() && id == self.config_id;
                if matches == negate {
                    return;
                }
                buf = buf[ofs + ws..].trim_start_matches([' ', '\t']).to_string();
            }
            if buf.starts_with('$') {
                if let Some((name, multiline)) = self.defs.try_define(&buf) {
                    if multiline {
                        self.multiline_def = Some(name);
                    }
                    return;
                }
            }
            if buf.starts_with("~SEQ") || buf.starts_with("~LST") {
                self.generate(&buf);
                return;
            }
            if buf.starts_with('~') || !buf.contains('$') {
                break;
            }
            let e = self.defs.expand(&buf);
            if !e.changed {
                break;
            }
            more_lines.extend(e.more_lines);
            buf = decomment(&e.text).text;
            rounds += 1;
            if let Some(p) = e.problem {
                // keepalived keeps the partly replaced line.
                self.report(Severity::Info, p);
                break;
            }
            if rounds > MAX_NESTING || !(buf.starts_with('@') || buf.contains('$')) {
                break;
            }
        }
        if !buf.is_empty() {
            if let Some((include_type, pattern)) = include_directive(&buf) {
                let base = self
                    .file
                    .as_ref()
                    .map_or_else(|| PathBuf::from("."), |f| dir_of(f));
                self.include(&pattern, include_type, &base);
            } else {
                let (head, rest) = split_braces(&buf);
                self.emit(head);
                if let Some(rest) = rest {
                    self.process(rest);
                }
            }
        }
        for l in more_lines {
            self.process(l);
        }
    }

    fn generate(&mut self, buf: &str) {
        let parsed: Result<Generator, String> = if buf.starts_with("~SEQ") {
            let defs = &mut self.defs;
            let r = parse_seq(buf, &mut |s: &str| defs.expand(s).text);
            r.map_err(|e| {
                if e.starts_with("Invalid ~SEQ definition") {
                    e
                } else {
                    format!("{e}\nInvalid ~SEQ specification '{buf}'")
                }
            })
        } else {
            parse_lst(buf)
        };
        match parsed {
            Err(msgs) => {
                for m in msgs.lines() {
                    self.report(Severity::GeneralError, m.to_string());
                }
            }
            Ok(g) => {
                for set in &g.sets {
                    for (var, value) in g.vars.iter().zip(set) {
                        self.defs.set(var, value);
                    }
                    self.process(g.text.clone());
                    if self.too_many {
                        return;
                    }
                }
            }
        }
    }

    fn emit(&mut self, text: String) {
        if self.out.len() >= MAX_LINES {
            if !self.too_many {
                self.report(
                    Severity::Fatal,
                    format!("Configuration expands to more than {MAX_LINES} lines - stopping"),
                );
            }
            self.too_many = true;
            return;
        }
        let (words, err) = split_words(&text);
        if let Some(e) = err {
            self.report(Severity::UnmatchedQuote, e);
        }
        if words.is_empty() {
            return;
        }
        if text == "{" {
            self.block_depth += 1;
        } else if text == "}" {
            if self.block_depth == 0 {
                self.report(Severity::UnexpectedEob, "Extra '}' found");
            } else {
                self.block_depth -= 1;
            }
        }
        self.out.push(Line {
            words,
            raw: text,
            file: self.file.clone(),
            line: self.line_no,
        });
    }
}

fn is_plain_file(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 == 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Recognises `include PATTERN` and `includeX PATTERN` (X one of r m w b a).
fn include_directive(buf: &str) -> Option<(u8, String)> {
    let rest = buf.strip_prefix("include")?;
    let mut chars = rest.chars();
    let c = chars.next()?;
    let (include_type, tail) = if c == ' ' || c == '\t' {
        (0, &rest[1..])
    } else {
        let t = match c {
            'r' => INC_R,
            'a' => INC_R | INC_M | INC_B | INC_W,
            'w' => INC_R | INC_M | INC_W,
            'm' => INC_R | INC_M,
            'b' => INC_R | INC_B,
            _ => return None,
        };
        if !rest[1..].starts_with([' ', '\t']) {
            return None;
        }
        (t, &rest[2..])
    };
    Some((
        include_type,
        tail.trim_start_matches([' ', '\t']).to_string(),
    ))
}
