//! `Range: bytes=…` on static files, as nginx 1.22's range filter reads
//! it (`ngx_http_range_parse`): spaces allowed around numbers and dashes,
//! `N-`, `N-M` (cut at the end), `-N` (the last N bytes); a malformed
//! header or no satisfiable range is 416; ranges covering more than the
//! file altogether, an empty file, or a unit other than `bytes` give the
//! whole file. `If-Range` (an entity tag, or the exact `Last-Modified`
//! text) decides whether the header counts at all.

/// What the header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// The whole file (200).
    Whole,
    /// 416.
    Unsatisfiable,
    /// 206: `[start, end)` pairs, in the header's order.
    Parts(Vec<(u64, u64)>),
}

fn skip_spaces(b: &[u8], i: &mut usize) {
    while b.get(*i) == Some(&b' ') {
        *i += 1;
    }
}

/// Reads digits at `i` (at least one), `None` on none or overflow.
fn number(b: &[u8], i: &mut usize) -> Option<u64> {
    let start = *i;
    let mut n: u64 = 0;
    while let Some(d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        *i += 1;
    }
    (*i > start).then_some(n)
}

/// Parses `value` for a file of `size` bytes.
#[must_use]
pub fn parse(value: &[u8], size: u64) -> Ranges {
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"bytes=") {
        return Ranges::Whole;
    }
    let b = &value[6..];
    let mut i = 0;
    let mut parts = Vec::new();
    let mut total: u64 = 0;
    loop {
        skip_spaces(b, &mut i);
        let (start, end);
        if b.get(i) == Some(&b'-') {
            i += 1;
            let Some(n) = number(b, &mut i) else {
                return Ranges::Unsatisfiable;
            };
            skip_spaces(b, &mut i);
            if !matches!(b.get(i), None | Some(b',')) {
                return Ranges::Unsatisfiable;
            }
            start = size.saturating_sub(n);
            end = size;
        } else {
            let Some(s) = number(b, &mut i) else {
                return Ranges::Unsatisfiable;
            };
            skip_spaces(b, &mut i);
            if b.get(i) != Some(&b'-') {
                return Ranges::Unsatisfiable;
            }
            i += 1;
            skip_spaces(b, &mut i);
            start = s;
            if matches!(b.get(i), None | Some(b',')) {
                end = size;
            } else {
                let Some(e) = number(b, &mut i) else {
                    return Ranges::Unsatisfiable;
                };
                skip_spaces(b, &mut i);
                if !matches!(b.get(i), None | Some(b',')) {
                    return Ranges::Unsatisfiable;
                }
                end = if e >= size { size } else { e + 1 };
            }
        }
        if start < end {
            parts.push((start, end));
            total = total.saturating_add(end - start);
        } else if start == 0 {
            return Ranges::Whole;
        }
        if b.get(i) != Some(&b',') {
            break;
        }
        i += 1;
    }
    if parts.is_empty() {
        Ranges::Unsatisfiable
    } else if total > size {
        Ranges::Whole
    } else {
        Ranges::Parts(parts)
    }
}

/// Whether `If-Range` (absent: yes) lets the `Range` header count.
#[must_use]
pub fn if_range(value: Option<&[u8]>, etag: &str, modified: &str) -> bool {
    match value {
        None => true,
        Some(v) if v.len() >= 2 && v.ends_with(b"\"") => v == etag.as_bytes(),
        Some(v) => v == modified.as_bytes(),
    }
}

/// The next `multipart/byteranges` boundary (nginx numbers them per
/// process from 1, 20 digits).
pub fn boundary() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:020}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_nginx_reads_them() {
        let p = |v: &str| parse(v.as_bytes(), 6);
        assert_eq!(p("bytes=1-3"), Ranges::Parts(vec![(1, 4)]));
        assert_eq!(p("bytes=2-"), Ranges::Parts(vec![(2, 6)]));
        assert_eq!(p("bytes=-2"), Ranges::Parts(vec![(4, 6)]));
        assert_eq!(p("bytes=0-100"), Ranges::Parts(vec![(0, 6)]));
        assert_eq!(p("bytes= 1-2"), Ranges::Parts(vec![(1, 3)]));
        assert_eq!(p("bytes=0-1,3-4"), Ranges::Parts(vec![(0, 2), (3, 5)]));
        assert_eq!(p("bytes=10-20"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=3-1"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=x"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=99999999999999999999-"), Ranges::Unsatisfiable);
        assert_eq!(p("items=1-2"), Ranges::Whole);
        assert_eq!(p("bytes=0-5,0-5"), Ranges::Whole);
        assert_eq!(parse(b"bytes=0-2", 0), Ranges::Whole);
    }
}
