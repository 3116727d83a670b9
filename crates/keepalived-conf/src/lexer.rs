//! Line-level lexing as keepalived 2.2.7 does it: comments, line continuation
//! marks, brace splitting, word splitting and escaped strings.

/// keepalived reads lines with `fgets(buf, 1024)`: a longer physical line is
/// handed over in pieces of at most this many bytes.
pub const MAX_LINE: usize = 1023;

/// Result of [`decomment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decommented {
    pub text: String,
    /// The line ended in a `\` (kept at the end of `text`).
    pub continued: bool,
    /// A `"` was left open.
    pub unterminated_quote: bool,
}

/// Removes leading blanks, a `#`/`!` comment (not inside `"..."`), the `\`
/// from `\#` and `\!` outside quotes, and trailing blanks. A final `\` is
/// kept, directly after the text, as a continuation mark.
pub fn decomment(line: &str) -> Decommented {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let bytes = trimmed.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut quote = false;
    let mut continued = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' => {
                quote = !quote;
                out.push(c);
                i += 1;
            }
            b'\\' => {
                if i + 1 < bytes.len() {
                    let next = bytes[i + 1];
                    if !quote && (next == b'#' || next == b'!') {
                        out.push(next);
                    } else {
                        out.push(c);
                        out.push(next);
                    }
                    i += 2;
                } else {
                    continued = true;
                    i += 1;
                }
            }
            b'#' | b'!' if !quote => break,
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    while matches!(out.last(), Some(b' ' | b'\t')) {
        out.pop();
    }
    if continued {
        out.push(b'\\');
    }
    Decommented {
        text: String::from_utf8_lossy(&out).into_owned(),
        continued,
        unterminated_quote: quote,
    }
}

/// Splits a line at its first `{` or `}` outside `"..."`, as keepalived's
/// `read_line` does. Returns the text to use now and the rest to read next.
/// A brace at the start is returned alone.
pub fn split_braces(line: &str) -> (String, Option<String>) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    let mut found = None;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_quote = !in_quote,
            b'{' | b'}' if !in_quote => {
                found = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(pos) = found else {
        return (line.trim_end_matches([' ', '\t']).to_string(), None);
    };
    let (head, rest) = if pos == 0 {
        let after = line[1..].trim_start_matches([' ', '\t']);
        (line[..1].to_string(), after.trim_end_matches([' ', '\t']))
    } else {
        (
            line[..pos].trim_end_matches([' ', '\t']).to_string(),
            line[pos..].trim_end_matches([' ', '\t']),
        )
    };
    let rest = (!rest.is_empty()).then(|| rest.to_string());
    (head, rest)
}

/// Splits a logical line into words: blanks separate words, and a word that
/// starts with `"` runs to the next `"` (quotes removed). Returns `Err` with
/// keepalived's message for an unmatched quote, and the words read so far.
pub fn split_words(line: &str) -> (Vec<String>, Option<String>) {
    let mut words = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return (words, None);
        }
        if let Some(body) = rest.strip_prefix('"') {
            let Some(end) = body.find('"') else {
                return (words, Some(format!("Unmatched quote: '{line}'")));
            };
            words.push(body[..end].to_string());
            rest = &body[end + 1..];
        } else {
            let end = rest.find([' ', '\t', '"']).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
}

/// Splits words honouring both `"` and `'` quotes and the escapes
/// `\a \b \E \f \n \r \t \v \NNN \xXX \cC` (keepalived's
/// `alloc_strvec_quoted_escaped`, used for script command lines).
pub fn split_escaped(src: &str) -> Result<Vec<String>, String> {
    let bytes = src.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        let mut opened_at = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'\\' {
                i += 1;
                let Some(&e) = bytes.get(i) else {
                    return Err(format!("Missing escape char at end: '{src}'"));
                };
                let (value, used) = unescape_one(&bytes[i..]);
                let _ = e;
                word.push(value);
                i += used;
                continue;
            }
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                }
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    opened_at = i;
                    i += 1;
                }
                None if c == b' ' || c == b'\t' => break,
                _ => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        // keepalived accepts a quote opened as the very last character
        // (its scan ends there); any text after an unclosed quote is an error.
        if let Some(q) = quote {
            if opened_at + 1 < bytes.len() {
                return Err(format!("String '{src}': missing terminating {}", q as char));
            }
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Ok(words)
}

/// Decodes one escape; `s` starts just after the backslash and is not empty.
/// Returns the byte and how many input bytes were used.
fn unescape_one(s: &[u8]) -> (u8, usize) {
    let c = s[0];
    if c == b'x' && s.get(1).is_some_and(u8::is_ascii_hexdigit) {
        let mut value: u8 = 0;
        let mut n = 1;
        while let Some(d) = s.get(n).filter(|d| d.is_ascii_hexdigit()) {
            value = (value << 4) | hex_digit(*d);
            n += 1;
        }
        return (value, n);
    }
    if c == b'c' && s.len() > 1 {
        return (s[1] & 0x1f, 2);
    }
    if (b'0'..=b'7').contains(&c) {
        let mut value = c - b'0';
        let mut n = 1;
        while n < 3 {
            match s.get(n) {
                Some(d @ b'0'..=b'7') => {
                    value = value.wrapping_shl(3).wrapping_add(d - b'0');
                    n += 1;
                }
                _ => break,
            }
        }
        return (value, n);
    }
    let value = match c {
        b'a' => 0x07,
        b'b' => 0x08,
        b'E' => 0x1b,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        other => other,
    };
    (value, 1)
}

fn hex_digit(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d - b'A' + 10,
    }
}

/// Cuts a physical line into the pieces `fgets` with a 1024-byte buffer
/// would return (never splitting inside a UTF-8 character is not attempted:
/// pieces are decoded lossily, as keepalived sees bytes).
pub fn fgets_pieces(line: &[u8]) -> Vec<String> {
    if line.len() <= MAX_LINE {
        return vec![String::from_utf8_lossy(line).into_owned()];
    }
    line.chunks(MAX_LINE)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_end_lines_outside_quotes() {
        assert_eq!(decomment("  a b # c").text, "a b");
        assert_eq!(decomment("a ! c").text, "a");
        assert_eq!(decomment("a \"x # y\" # z").text, "a \"x # y\"");
        assert_eq!(decomment("a \\# b").text, "a # b");
        assert_eq!(decomment("a \\! b").text, "a ! b");
        assert!(decomment("a \"b").unterminated_quote);
    }

    #[test]
    fn continuation_mark_is_kept_tight() {
        let d = decomment("$X=a b   \\");
        assert!(d.continued);
        assert_eq!(d.text, "$X=a b\\");
    }

    #[test]
    fn braces_split_anywhere() {
        assert_eq!(
            split_braces("virtual_ipaddress { 192.0.2.1 }"),
            ("virtual_ipaddress".into(), Some("{ 192.0.2.1 }".into()))
        );
        assert_eq!(
            split_braces("{ 192.0.2.1 }"),
            ("{".into(), Some("192.0.2.1 }".into()))
        );
        assert_eq!(split_braces("}"), ("}".into(), None));
        assert_eq!(split_braces("a \"{\" b"), ("a \"{\" b".into(), None));
    }

    #[test]
    fn words_and_double_quotes() {
        assert_eq!(
            split_words("script \"/bin/x a b\" c").0,
            vec!["script", "/bin/x a b", "c"]
        );
        assert!(split_words("a \"b")
            .1
            .unwrap()
            .starts_with("Unmatched quote"));
    }

    #[test]
    fn escapes() {
        let w = split_escaped(r#"a\tb 'c d' "e\"f" \x41\101\cA\E"#).unwrap();
        assert_eq!(w, vec!["a\tb", "c d", "e\"f", "AA\u{1}\u{1b}"]);
        assert!(split_escaped("'abc")
            .unwrap_err()
            .contains("missing terminating '"));
        assert!(split_escaped("abc\\")
            .unwrap_err()
            .contains("Missing escape"));
    }

    #[test]
    fn long_lines_are_cut_like_fgets() {
        let line = vec![b'a'; 2000];
        let pieces = fgets_pieces(&line);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), MAX_LINE);
    }
}
