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

/// The normalised path (`$uri`) of a request path.
pub fn normalize(path: &str) -> Result<Vec<u8>, UriError> {
    let raw = path.as_bytes();
    if raw.first() != Some(&b'/') {
        return Err(UriError::NotAbsolute);
    }
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
        normalize(p).map(|v| String::from_utf8(v).unwrap())
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
    fn refuses_what_nginx_refuses() {
        assert_eq!(n("/../etc"), Err(UriError::AboveRoot));
        assert_eq!(n("/%zz"), Err(UriError::BadEscape));
        assert_eq!(n("/%4"), Err(UriError::BadEscape));
        assert_eq!(n("x"), Err(UriError::NotAbsolute));
    }
}
