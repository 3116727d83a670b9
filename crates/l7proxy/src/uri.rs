//! Request-target normalisation as nginx's `ngx_http_parse_complex_uri`
//! does it (with `merge_slashes on`): percent-decoding, `//` merged, `/./`
//! dropped, `/../` resolved; a `..` above the root is a bad request.

/// Why a request target was refused (nginx answers 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    NotAbsolute,
    BadEscape,
    AboveRoot,
}

/// Splits `target` into the path and the query (without `?`).
pub fn split(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `raw` (starting with `/`) is already normal: no escapes, no
/// empty, `.` or `..` segments.
fn is_normal(raw: &[u8]) -> bool {
    !raw.contains(&b'%')
        && raw
            .split(|&b| b == b'/')
            .skip(1)
            .enumerate()
            .all(|(i, seg)| {
                let last = i + 1 == raw.split(|&b| b == b'/').count() - 1;
                !(seg == b"." || seg == b".." || (seg.is_empty() && !last))
            })
}

/// The normalised path (`$uri`) of a request path; borrowed when the path
/// is already normal (the common case), so most requests allocate nothing.
pub fn normalize(path: &str) -> Result<std::borrow::Cow<'_, str>, UriError> {
    let raw = path.as_bytes();
    if raw.first() != Some(&b'/') {
        return Err(UriError::NotAbsolute);
    }
    if is_normal(raw) {
        return Ok(std::borrow::Cow::Borrowed(path));
    }
    normalize_bytes(raw).map(|v| std::borrow::Cow::Owned(String::from_utf8_lossy(&v).into_owned()))
}

fn normalize_bytes(raw: &[u8]) -> Result<Vec<u8>, UriError> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let (Some(h), Some(l)) = (
                raw.get(i + 1).and_then(|&b| hex(b)),
                raw.get(i + 2).and_then(|&b| hex(b)),
            ) else {
                return Err(UriError::BadEscape);
            };
            decoded.push(h << 4 | l);
            i += 3;
        } else {
            decoded.push(raw[i]);
            i += 1;
        }
    }
    // Segment by segment: empty and "." vanish, ".." pops.
    let trailing = decoded.ends_with(b"/") || decoded.ends_with(b"/.") || decoded.ends_with(b"/..");
    let mut out: Vec<&[u8]> = Vec::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(UriError::AboveRoot);
                }
            }
            s => out.push(s),
        }
    }
    let mut uri = Vec::with_capacity(decoded.len());
    for s in &out {
        uri.push(b'/');
        uri.extend_from_slice(s);
    }
    if uri.is_empty() || trailing {
        uri.push(b'/');
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, UriError> {
        let fast = normalize(p).map(std::borrow::Cow::into_owned);
        // The fast path must agree with the full algorithm.
        if p.starts_with('/') {
            let slow = normalize_bytes(p.as_bytes()).map(|v| String::from_utf8(v).unwrap());
            assert_eq!(fast, slow, "{p}");
        }
        fast
    }

    #[test]
    fn decodes_merges_and_resolves() {
        assert_eq!(n("/").unwrap(), "/");
        assert_eq!(n("/a//b///c").unwrap(), "/a/b/c");
        assert_eq!(n("/a/./b/../c/").unwrap(), "/a/c/");
        assert_eq!(n("/%61%2Fb").unwrap(), "/a/b");
        assert_eq!(n("/a/b/..").unwrap(), "/a/");
        assert_eq!(n("/a/.").unwrap(), "/a/");
    }

    #[test]
    fn already_normal_paths_are_borrowed() {
        for p in ["/", "/a", "/a/b/", "/a.b/c-d_e", "/x?"] {
            assert!(
                matches!(normalize(p), Ok(std::borrow::Cow::Borrowed(_))),
                "{p}"
            );
        }
        for p in ["//", "/a//b", "/./a", "/a/..", "/%41", "/a/.", "/.."] {
            assert!(
                !matches!(normalize(p), Ok(std::borrow::Cow::Borrowed(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn refuses_what_nginx_refuses() {
        assert_eq!(n("/../etc"), Err(UriError::AboveRoot));
        assert_eq!(n("/%zz"), Err(UriError::BadEscape));
        assert_eq!(n("/%4"), Err(UriError::BadEscape));
        assert_eq!(n("x"), Err(UriError::NotAbsolute));
    }
}
