//! Tokenizer following the rules of nginx's `ngx_conf_read_token`.
//!
//! * Whitespace is space, tab, CR and LF only.
//! * `#` starts a comment only at a token boundary and runs to the end of the line.
//! * A quote opens a quoted word only at a token start; after the closing quote the
//!   next byte must be whitespace, `;`, `{` or `)`.
//! * Unquoted words end at whitespace, `;` or `{` (a `}` inside a word is part of it);
//!   a `{` right after an unescaped `$` does not end the word (`${var}`).
//! * `\` escapes the next byte; in the stored value `\"`, `\'`, `\\` become the
//!   character and `\t`, `\r`, `\n` become the control character, other escapes stay.
//! * `;` or `{` with no word before it, `}` after words of an unterminated
//!   directive, a `}` without a matching `{` and an end of file inside a block or a
//!   directive are errors, with nginx's texts and nginx's line (the line being read).

use std::fmt;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A directive name or argument, unescaped; `quoted` if it was written in quotes.
    Word { text: String, quoted: bool },
    /// `;` ending a simple directive.
    Semicolon,
    /// `{` opening a block.
    BlockStart,
    /// `}` closing a block.
    BlockEnd,
    /// A comment; the text after `#`, without the line feed.
    Comment(String),
}

/// A token and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub line: usize,
}

/// A lexical error: nginx's message and the line nginx reports it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub line: usize,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LexError {}

const EOF_IN_DIRECTIVE: &str = "unexpected end of file, expecting \";\" or \"}\"";
const EOF_IN_BLOCK: &str = "unexpected end of file, expecting \"}\"";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Streaming tokenizer over the bytes of one file.
#[derive(Debug)]
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// Words read since the last `;`, `{` or `}`.
    pending_words: usize,
    depth: usize,
    /// A word followed directly by `;` or `{`: that terminator comes next.
    queued: Option<Token>,
    failed: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            pending_words: 0,
            depth: 0,
            queued: None,
            failed: false,
        }
    }

    /// The line currently being read (nginx reports directive errors on it).
    pub fn line(&self) -> usize {
        self.line
    }

    #[allow(
        clippy::unnecessary_wraps,
        reason = "returns the iterator item, so callers can return it"
    )]
    fn error(&mut self, message: String) -> Option<Result<Token, LexError>> {
        self.failed = true;
        Some(Err(LexError {
            message,
            line: self.line,
        }))
    }

    fn bump(&mut self) -> Option<u8> {
        let b = *self.src.get(self.pos)?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn eof(&mut self) -> Option<Result<Token, LexError>> {
        if self.pending_words > 0 {
            return self.error(EOF_IN_DIRECTIVE.to_owned());
        }
        if self.depth > 0 {
            return self.error(EOF_IN_BLOCK.to_owned());
        }
        None
    }

    fn punct(&mut self, b: u8) -> Option<Result<Token, LexError>> {
        let line = self.line;
        let kind = match b {
            b';' | b'{' if self.pending_words == 0 => {
                return self.error(format!("unexpected \"{}\"", b as char));
            }
            b';' => TokenKind::Semicolon,
            b'{' => {
                self.depth += 1;
                TokenKind::BlockStart
            }
            _ => {
                if self.pending_words > 0 || self.depth == 0 {
                    return self.error("unexpected \"}\"".to_owned());
                }
                self.depth -= 1;
                TokenKind::BlockEnd
            }
        };
        self.pending_words = 0;
        Some(Ok(Token { kind, line }))
    }

    fn comment(&mut self) -> Token {
        let line = self.line;
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'\n' {
                break;
            }
            self.pos += 1;
        }
        let text = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        Token {
            kind: TokenKind::Comment(text),
            line,
        }
    }

    fn quoted(&mut self, quote: u8) -> Option<Result<Token, LexError>> {
        let line = self.line;
        let start = self.pos;
        loop {
            let Some(b) = self.bump() else {
                return self.error(EOF_IN_DIRECTIVE.to_owned());
            };
            if b == b'\\' {
                if self.bump().is_none() {
                    return self.error(EOF_IN_DIRECTIVE.to_owned());
                }
            } else if b == quote {
                break;
            }
        }
        let text = unescape(&self.src[start..self.pos - 1]);
        // nginx demands a separator right after the closing quote.
        match self.peek() {
            None => return self.error(EOF_IN_DIRECTIVE.to_owned()),
            Some(b) if is_space(b) => {
                self.bump();
            }
            Some(b';' | b'{') => {
                let b = self.bump().unwrap_or_default();
                self.pending_words += 1;
                self.queued = Some(self.terminator(b));
            }
            Some(b')') => {}
            Some(b) => {
                self.bump();
                return self.error(format!("unexpected \"{}\"", display_byte(b)));
            }
        }
        if self.queued.is_none() {
            self.pending_words += 1;
        }
        Some(Ok(Token {
            kind: TokenKind::Word { text, quoted: true },
            line,
        }))
    }

    fn terminator(&mut self, b: u8) -> Token {
        let line = self.line;
        self.pending_words = 0;
        if b == b'{' {
            self.depth += 1;
            Token {
                kind: TokenKind::BlockStart,
                line,
            }
        } else {
            Token {
                kind: TokenKind::Semicolon,
                line,
            }
        }
    }

    fn bare(&mut self) -> Option<Result<Token, LexError>> {
        let line = self.line;
        let start = self.pos;
        let mut after_dollar = false;
        loop {
            let Some(b) = self.peek() else {
                return self.error(EOF_IN_DIRECTIVE.to_owned());
            };
            if b == b'{' && after_dollar {
                self.pos += 1;
                after_dollar = false;
                continue;
            }
            if is_space(b) || b == b';' || b == b'{' {
                break;
            }
            self.bump();
            after_dollar = b == b'$';
            if b == b'\\' && self.bump().is_none() {
                return self.error(EOF_IN_DIRECTIVE.to_owned());
            }
        }
        let text = unescape(&self.src[start..self.pos]);
        self.pending_words += 1;
        // The terminating byte: whitespace is consumed, `;`/`{` become the next token.
        if let Some(b @ (b';' | b'{')) = self.bump() {
            self.queued = Some(self.terminator(b));
        }
        Some(Ok(Token {
            kind: TokenKind::Word {
                text,
                quoted: false,
            },
            line,
        }))
    }
}

fn display_byte(b: u8) -> String {
    String::from_utf8_lossy(&[b]).into_owned()
}

/// nginx's unescaping of a word's raw bytes.
pub fn unescape(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        };
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                c @ (b'"' | b'\'' | b'\\') => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Deepest block nesting accepted. nginx has no limit, but recursion over a
/// hostile file must not exhaust the stack; real configurations nest a few levels.
pub const MAX_DEPTH: usize = 500;

impl Iterator for Lexer<'_> {
    type Item = Result<Token, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        let token = self.next_token();
        if self.depth > MAX_DEPTH && !self.failed {
            return self.error(format!("too deeply nested blocks (more than {MAX_DEPTH})"));
        }
        token
    }
}

impl Lexer<'_> {
    fn next_token(&mut self) -> Option<Result<Token, LexError>> {
        if self.failed {
            return None;
        }
        if let Some(t) = self.queued.take() {
            return Some(Ok(t));
        }
        loop {
            let Some(b) = self.peek() else {
                return self.eof();
            };
            if is_space(b) {
                self.bump();
                continue;
            }
            return match b {
                b';' | b'{' | b'}' => {
                    self.bump();
                    self.punct(b)
                }
                b'#' => {
                    self.pos += 1;
                    Some(Ok(self.comment()))
                }
                b'"' | b'\'' => {
                    self.bump();
                    self.quoted(b)
                }
                _ => self.bare(),
            };
        }
    }
}

/// All tokens of `src`, or the first error.
pub fn tokenize(src: &[u8]) -> Result<Vec<Token>, LexError> {
    Lexer::new(src).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokenize(src.as_bytes())
            .unwrap()
            .into_iter()
            .map(|t| match t.kind {
                TokenKind::Word { text, .. } => text,
                TokenKind::Semicolon => ";".into(),
                TokenKind::BlockStart => "{".into(),
                TokenKind::BlockEnd => "}".into(),
                TokenKind::Comment(c) => format!("#{c}"),
            })
            .collect()
    }

    fn err(src: &str) -> (String, usize) {
        let e = tokenize(src.as_bytes()).unwrap_err();
        (e.message, e.line)
    }

    #[test]
    fn hash_inside_word_is_not_a_comment() {
        assert_eq!(words("a#b c; # real\n"), ["a#b", "c", ";", "# real"]);
    }

    #[test]
    fn right_brace_inside_word_is_part_of_it() {
        assert_eq!(words("a b}c;"), ["a", "b}c", ";"]);
    }

    #[test]
    fn dollar_brace_does_not_end_word() {
        assert_eq!(words("set $a ${b}c{ }"), ["set", "$a", "${b}c", "{", "}"]);
    }

    #[test]
    fn escapes_follow_nginx() {
        assert_eq!(
            words(r#"a "x\"y\\z\n\q" b\ c;"#),
            ["a", "x\"y\\z\n\\q", "b\\ c", ";"]
        );
    }

    #[test]
    fn quote_must_be_followed_by_separator() {
        assert_eq!(err("a \"b\"c;"), ("unexpected \"c\"".into(), 1));
        assert_eq!(
            words("if ($a = \"b\") {}"),
            ["if", "($a", "=", "b", ")", "{", "}"]
        );
    }

    #[test]
    fn structural_errors_have_nginx_texts_and_lines() {
        assert_eq!(err(";"), ("unexpected \";\"".into(), 1));
        assert_eq!(err("a {\n{"), ("unexpected \"{\"".into(), 2));
        assert_eq!(err("a b\n}"), ("unexpected \"}\"".into(), 2));
        assert_eq!(err("}"), ("unexpected \"}\"".into(), 1));
        assert_eq!(err("a {\n"), (EOF_IN_BLOCK.into(), 2));
        assert_eq!(err("a b"), (EOF_IN_DIRECTIVE.into(), 1));
        assert_eq!(err("a \"b"), (EOF_IN_DIRECTIVE.into(), 1));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "a {".repeat(MAX_DEPTH + 1);
        let e = tokenize(deep.as_bytes()).unwrap_err();
        assert!(e.message.starts_with("too deeply nested blocks"), "{e}");
        let ok = format!("{}{}", "a {".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(tokenize(ok.as_bytes()).is_ok());
    }

    #[test]
    fn token_lines_are_start_lines() {
        let toks = tokenize(b"a\n\"b\nc\" ;\n").unwrap();
        let lines: Vec<usize> = toks.iter().map(|t| t.line).collect();
        assert_eq!(lines, [1, 2, 3]);
    }
}
