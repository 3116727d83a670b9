//! Diagnostics in keepalived's words, with keepalived's severity ladder.
//!
//! keepalived keeps the *highest* `config_err_t` reported while reading a
//! configuration and maps it to the exit code of `keepalived -t`. The variants
//! below are in the same order, so `max()` gives the same answer.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is, in keepalived's order (`lib/parser.h`, `config_err_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Logged only; does not change the exit code.
    Info,
    FileNotFound,
    BadInterface,
    Fatal,
    MultipleFiles,
    UnknownKeyword,
    UnexpectedBob,
    MissingBob,
    UnexpectedEob,
    MissingEob,
    UnmatchedQuote,
    MissingParameter,
    InvalidNumber,
    GeneralError,
    Warning,
    Deprecated,
    /// Scripts would run as root without `enable_script_security`.
    Security,
}

/// Exit code of `keepalived -t` for the worst severity seen (`config_test_exit`).
pub const EXIT_OK: i32 = 0;
/// The configuration cannot be run: missing file, bad interface, fatal error.
pub const EXIT_CONFIG: i32 = 4;
/// Any other error or warning.
pub const EXIT_CONFIG_TEST: i32 = 5;
/// Script security.
pub const EXIT_SECURITY: i32 = 6;
/// keepalived's `KEEPALIVED_EXIT_NO_CONFIG`: an include it was told to
/// check (includer, includem, ...) failed, so it did not go on.
pub const EXIT_NO_CONFIG: i32 = 6;
/// keepalived's `KEEPALIVED_EXIT_CONFIG`: it stopped reading at a keyword
/// whose parameter is missing.
pub const EXIT_MISSING_PARAMETER: i32 = 2;

/// One message, with where it came from when that is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: Option<PathBuf>,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), n) if n > 0 => {
                write!(f, "({}: Line {n}) {}", file.display(), self.message)
            }
            (None, n) if n > 0 => write!(f, "(Line {n}) {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A location in the configuration: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    pub file: Option<PathBuf>,
    pub line: usize,
}

/// Collects diagnostics in the order they are found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    /// Set when keepalived would have exited on the spot (a missing
    /// parameter): nothing after that point is read or checked.
    #[serde(default)]
    pub stopped: Option<i32>,
}

impl Diagnostics {
    pub fn report(&mut self, severity: Severity, loc: &Location, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity,
            file: loc.file.clone(),
            line: loc.line,
            message: message.into(),
        });
    }

    /// A message without a file position (keepalived prints some of these).
    pub fn report_global(&mut self, severity: Severity, message: impl Into<String>) {
        self.report(severity, &Location::default(), message);
    }

    /// The worst severity seen, if any counts.
    pub fn worst(&self) -> Option<Severity> {
        self.items
            .iter()
            .map(|d| d.severity)
            .filter(|s| *s != Severity::Info)
            .max()
    }

    /// The exit code `keepalived -t` would give.
    pub fn exit_code(&self) -> i32 {
        if let Some(code) = self.stopped {
            return code;
        }
        match self.worst() {
            None | Some(Severity::Info) => EXIT_OK,
            Some(Severity::FileNotFound | Severity::BadInterface | Severity::Fatal) => EXIT_CONFIG,
            Some(Severity::Security) => EXIT_SECURITY,
            Some(_) => EXIT_CONFIG_TEST,
        }
    }

    /// True when some message contains `needle` (for tests and tools).
    pub fn contains(&self, needle: &str) -> bool {
        self.items.iter().any(|d| d.message.contains(needle))
    }
}
