//! A direct writer for the payload's compact JSON, byte-identical to Python's
//! `json.dumps(payload, separators=(',', ':'))` (ASCII only, crossplane's key
//! order). Large configs spend much of their time here, so it skips serde.

use std::io::{self, Write};

use crate::parser::{parse_with, ParseOptions, Sink};
use crate::payload::{Payload, Stmt};

fn string<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (0x20..0x80).contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        // Continuation bytes of a character already escaped.
        if b & 0xC0 == 0x80 {
            start = start.max(i + 1);
            continue;
        }
        w.write_all(&bytes[start..i])?;
        match b {
            b'"' => w.write_all(b"\\\"")?,
            b'\\' => w.write_all(b"\\\\")?,
            b'\n' => w.write_all(b"\\n")?,
            b'\r' => w.write_all(b"\\r")?,
            b'\t' => w.write_all(b"\\t")?,
            0x08 => w.write_all(b"\\b")?,
            0x0C => w.write_all(b"\\f")?,
            b if b < 0x20 => write!(w, "\\u{:04x}", u32::from(b))?,
            _ => {
                let c = s[i..].chars().next().unwrap_or_default();
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        start = i + 1;
    }
    if start < bytes.len() {
        w.write_all(&bytes[start..])?;
    }
    w.write_all(b"\"")
}

fn number<W: Write>(w: &mut W, n: Option<usize>) -> io::Result<()> {
    match n {
        Some(n) => write!(w, "{n}"),
        None => w.write_all(b"null"),
    }
}

fn list<W: Write, T>(
    w: &mut W,
    items: &[T],
    mut each: impl FnMut(&mut W, &T) -> io::Result<()>,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        each(w, item)?;
    }
    w.write_all(b"]")
}

/// Writes a statement up to its block's opening `[` (or, without a block, whole).
fn stmt_head<W: Write>(w: &mut W, s: &Stmt, open_block: bool) -> io::Result<()> {
    w.write_all(b"{")?;
    if let Some(file) = &s.file {
        w.write_all(b"\"file\":")?;
        string(w, file)?;
        w.write_all(b",")?;
    }
    w.write_all(b"\"directive\":")?;
    string(w, &s.directive)?;
    w.write_all(b",\"line\":")?;
    number(w, Some(s.line))?;
    w.write_all(b",\"args\":")?;
    list(w, &s.args, |w, a| string(w, a))?;
    if let Some(includes) = &s.includes {
        w.write_all(b",\"includes\":")?;
        list(w, includes, |w, &n| number(w, Some(n)))?;
    }
    if open_block {
        return w.write_all(b",\"block\":[");
    }
    if let Some(block) = &s.block {
        w.write_all(b",\"block\":")?;
        list(w, block, stmt)?;
    }
    if let Some(comment) = &s.comment {
        w.write_all(b",\"comment\":")?;
        string(w, comment)?;
    }
    w.write_all(b"}")
}

fn stmt<W: Write>(w: &mut W, s: &Stmt) -> io::Result<()> {
    stmt_head(w, s, false)
}

/// Writes each file's statements straight to compact JSON, without building the tree.
#[derive(Debug, Default)]
pub struct JsonSink {
    buf: Vec<u8>,
    /// Per open list: whether it already has an element.
    nonempty: Vec<bool>,
}

impl JsonSink {
    fn comma(&mut self) {
        if let Some(last) = self.nonempty.last_mut() {
            if *last {
                self.buf.push(b',');
            }
            *last = true;
        }
    }

    fn start(&mut self) {
        if self.nonempty.is_empty() && self.buf.is_empty() {
            self.buf.push(b'[');
            self.nonempty.push(false);
        }
    }
}

impl Sink for JsonSink {
    type Parsed = Vec<u8>;

    fn leaf(&mut self, s: Stmt) {
        self.start();
        self.comma();
        // Writing to a Vec cannot fail.
        let _ = stmt_head(&mut self.buf, &s, false);
    }

    fn open(&mut self, s: Stmt) {
        self.start();
        self.comma();
        let _ = stmt_head(&mut self.buf, &s, true);
        self.nonempty.push(false);
    }

    fn close(&mut self) {
        self.nonempty.pop();
        self.buf.extend_from_slice(b"]}");
    }

    fn finish(&mut self, ok: bool) -> Vec<u8> {
        self.nonempty.clear();
        if !ok || self.buf.is_empty() {
            self.buf.clear();
            return b"[]".to_vec();
        }
        self.buf.push(b']');
        std::mem::take(&mut self.buf)
    }
}

/// Parses `path` (without `--combine`) and writes crossplane's compact payload.
pub fn parse_to_compact<W: Write>(w: &mut W, path: &str, opts: &ParseOptions) -> io::Result<()> {
    let (payload, parsed) = parse_with(path, opts, &mut JsonSink::default());
    write_payload(w, &payload, |w, i| {
        w.write_all(parsed.get(i).map_or(&b"[]"[..], Vec::as_slice))
    })
}

/// Writes `payload` as compact JSON (no trailing line feed).
pub fn write_compact<W: Write>(w: &mut W, payload: &Payload) -> io::Result<()> {
    write_payload(w, payload, |w, i| list(w, &payload.config[i].parsed, stmt))
}

fn write_payload<W: Write>(
    w: &mut W,
    payload: &Payload,
    mut parsed: impl FnMut(&mut W, usize) -> io::Result<()>,
) -> io::Result<()> {
    w.write_all(b"{\"status\":")?;
    string(w, &payload.status)?;
    w.write_all(b",\"errors\":")?;
    list(w, &payload.errors, |w, e| {
        w.write_all(b"{\"file\":")?;
        string(w, &e.file)?;
        w.write_all(b",\"error\":")?;
        string(w, &e.error)?;
        w.write_all(b",\"line\":")?;
        number(w, e.line)?;
        w.write_all(b"}")
    })?;
    w.write_all(b",\"config\":")?;
    let mut index = 0;
    list(w, &payload.config, |w, c| {
        w.write_all(b"{\"file\":")?;
        string(w, &c.file)?;
        w.write_all(b",\"status\":")?;
        string(w, &c.status)?;
        w.write_all(b",\"errors\":")?;
        list(w, &c.errors, |w, e| {
            w.write_all(b"{\"error\":")?;
            string(w, &e.error)?;
            w.write_all(b",\"line\":")?;
            number(w, e.line)?;
            w.write_all(b"}")
        })?;
        w.write_all(b",\"parsed\":")?;
        parsed(w, index)?;
        index += 1;
        w.write_all(b"}")
    })?;
    w.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::to_json;

    #[test]
    fn matches_the_serde_rendering() {
        let mut s = Stmt::new("add_header", 3);
        s.args = vec![
            "X-é".into(),
            "a\"b\\c\n\t\u{1}\u{7f}😀".into(),
            String::new(),
        ];
        s.block = Some(vec![Stmt::comment(" c\r", 4)]);
        s.includes = Some(vec![1, 2]);
        let payload = Payload {
            status: "ok".into(),
            errors: Vec::new(),
            config: vec![crate::payload::ConfigFile {
                file: "ü.conf".into(),
                status: "ok".into(),
                errors: vec![crate::payload::FileError {
                    error: "e".into(),
                    line: None,
                }],
                parsed: vec![s],
            }],
        };
        let mut out = Vec::new();
        write_compact(&mut out, &payload).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), to_json(&payload, None));
    }
}
