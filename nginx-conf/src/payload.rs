//! crossplane's JSON payload: the data types and their JSON rendering.

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

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

/// A JSON formatter that escapes every non-ASCII character (Python's
/// `ensure_ascii`) and otherwise defers to `F`.
struct Ascii<F>(F);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(w $(, $arg)*)
        })*
    };
}

impl<F: Formatter> Formatter for Ascii<F> {
    delegate!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        begin_object_value(),
        end_object_value(),
    );

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(|c: char| !c.is_ascii()) {
            w.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
}

/// Writes `value` as crossplane does: compact unless `indent` is given, every
/// non-ASCII character escaped, and a final line feed.
pub fn write_json<T: Serialize, W: io::Write>(
    value: &T,
    indent: Option<usize>,
    mut w: W,
) -> io::Result<()> {
    match indent {
        None => {
            let mut ser = serde_json::Serializer::with_formatter(&mut w, Ascii(CompactFormatter));
            value.serialize(&mut ser).map_err(io::Error::other)?;
        }
        Some(n) => {
            let pad = vec![b' '; n];
            let fmt = Ascii(PrettyFormatter::with_indent(&pad));
            let mut ser = serde_json::Serializer::with_formatter(&mut w, fmt);
            value.serialize(&mut ser).map_err(io::Error::other)?;
        }
    }
    w.write_all(b"\n")?;
    w.flush()
}

/// [`write_json`] into a string (without the final line feed).
pub fn to_json<T: Serialize>(value: &T, indent: Option<usize>) -> String {
    let mut out = Vec::new();
    if let Err(e) = write_json(value, indent, &mut out) {
        return format!("{{\"status\":\"failed\",\"error\":\"{e}\"}}");
    }
    out.pop();
    String::from_utf8_lossy(&out).into_owned()
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
