//! crossplane's JSON payload: the data types and their JSON rendering.

use serde::{Deserialize, Serialize};

/// The whole result of a parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub status: String,
    pub errors: Vec<PayloadError>,
    pub config: Vec<ConfigFile>,
}

/// An error as listed at the top of the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadError {
    pub file: String,
    pub error: String,
    pub line: Option<usize>,
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    pub file: String,
    pub status: String,
    pub errors: Vec<FileError>,
    pub parsed: Vec<Stmt>,
}

/// An error as listed in a file's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileError {
    pub error: String,
    pub line: Option<usize>,
}

/// One directive (or, with `directive == "#"`, one comment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stmt {
    /// The file the directive comes from (only in `--combine` output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub directive: String,
    #[serde(default)]
    pub line: usize,
    #[serde(default)]
    pub args: Vec<String>,
    /// Indexes into `config` of the files an `include` pulled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<Vec<Stmt>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Stmt {
    pub fn new(directive: impl Into<String>, line: usize) -> Stmt {
        Stmt {
            file: None,
            directive: directive.into(),
            line,
            args: Vec::new(),
            includes: None,
            block: None,
            comment: None,
        }
    }

    pub fn comment(text: impl Into<String>, line: usize) -> Stmt {
        Stmt {
            comment: Some(text.into()),
            ..Stmt::new("#", line)
        }
    }
}

/// Renders `value` as crossplane does: compact unless `indent` is given, and
/// with every non-ASCII character escaped (Python's `ensure_ascii`).
pub fn to_json<T: Serialize>(value: &T, indent: Option<usize>) -> String {
    let text = match indent {
        None => serde_json::to_string(value),
        Some(n) => {
            let pad = vec![b' '; n];
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            value
                .serialize(&mut ser)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        }
    }
    .unwrap_or_else(|e| format!("{{\"status\":\"failed\",\"error\":\"{e}\"}}"));
    ascii_escape(&text)
}

fn ascii_escape(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_like_python() {
        assert_eq!(to_json(&"é😀", None), "\"\\u00e9\\ud83d\\ude00\"");
    }

    #[test]
    fn optional_keys_are_omitted() {
        let s = Stmt::new("user", 1);
        assert_eq!(
            to_json(&s, None),
            r#"{"directive":"user","line":1,"args":[]}"#
        );
    }
}
