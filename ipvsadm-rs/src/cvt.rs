//! The C library conversions whose exact leniency ipvsadm's behaviour
//! depends on: `strtol`, `atoi`, `inet_aton`, `inet_pton`.

use std::net::{Ipv4Addr, Ipv6Addr};

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtol(s, &end, 10)` on a 64-bit `long`: the value (saturated, with
/// `ERANGE` reported as `overflow`) and how many bytes were consumed (0 when
/// no digits were found).
pub fn strtol(s: &str) -> (i64, usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v * 10 + i128::from(b[i] - b'0');
        if v > i128::from(i64::MAX) + 1 {
            overflow = true;
            v = i128::from(i64::MAX) + 1;
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let v = if neg { -v } else { v };
    let clamped = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    overflow |= clamped != v;
    (i64::try_from(clamped).unwrap_or(0), i, overflow)
}

/// ipvsadm's `string_to_number`: the whole string a base-10 `long` within
/// `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (v, used, overflow) = strtol(s);
    (used != 0 && used == s.len() && !overflow && (min..=max).contains(&v)).then_some(v)
}

/// `atoi`: leading number, 0 when none (truncated to `int`).
pub fn atoi(s: &str) -> i32 {
    #[allow(clippy::cast_possible_truncation)] // atoi truncates like this
    let v = strtol(s).0 as i32;
    v
}

/// One part of an `inet_aton` address: decimal, `0x` hex or `0` octal.
fn aton_part(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // "0x" alone is 0 for glibc.
        return (radix == 16).then_some(0);
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = u64::from(c.to_digit(radix)?);
        v = v.checked_mul(u64::from(radix))?.checked_add(d)?;
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v)
}

/// glibc's `inet_aton`: `a`, `a.b`, `a.b.c`, `a.b.c.d` with C integer
/// syntax; trailing whitespace and anything after it is ignored.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let s = s
        .split(|c: char| c.is_ascii() && is_c_space(c as u8))
        .next()?;
    if s.is_empty() {
        return None;
    }
    let parts: Vec<u64> = s.split('.').map(aton_part).collect::<Option<_>>()?;
    // The last part fills the remaining bytes; the others are one byte each.
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|p| *p > 0xff) {
        return None;
    }
    let rest_bits = 8 * (4 - leading.len());
    if rest_bits < 32 && *last >= 1 << rest_bits {
        return None;
    }
    let v = leading
        .iter()
        .enumerate()
        .fold(*last, |acc, (i, p)| acc | (p << (24 - 8 * i)));
    Some(Ipv4Addr::from(u32::try_from(v).ok()?))
}

/// `inet_pton(AF_INET6, …)`.
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    // Rust accepts exactly the RFC 4291 text forms, as glibc does; it
    // rejects zone ids, as glibc does.
    s.parse().ok()
}

/// `inet_pton(AF_INET, …)`: strict dotted quad.
pub fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut o = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        o[i] = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(o))
}

#[cfg(test)]
mod tests {
    use super::{atoi, inet_aton, inet_pton4, string_to_number, strtol};

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol(" +12x"), (12, 4, false));
        assert_eq!(strtol("-"), (0, 0, false));
        assert!(strtol("99999999999999999999").2);
        assert_eq!(string_to_number("65535", 0, 65535), Some(65535));
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number("", 0, 5), None);
        assert_eq!(string_to_number("1 ", 0, 5), None);
        assert_eq!(string_to_number(" 1", 0, 5), Some(1));
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn inet_aton_accepts_short_and_radix_forms() {
        assert_eq!(inet_aton("1.2.3.4"), Some([1, 2, 3, 4].into()));
        assert_eq!(inet_aton("10.1"), Some([10, 0, 0, 1].into()));
        assert_eq!(inet_aton("0x7f.1"), Some([127, 0, 0, 1].into()));
        assert_eq!(inet_aton("010.0.0.1"), Some([8, 0, 0, 1].into()));
        assert_eq!(inet_aton("64"), Some([0, 0, 0, 64].into()));
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("a.b"), None);
        assert_eq!(inet_aton("1.2.3.4 junk"), Some([1, 2, 3, 4].into()));
        assert_eq!(inet_pton4("1.2.3.4"), Some([1, 2, 3, 4].into()));
        assert_eq!(inet_pton4("01.2.3.4"), None);
    }
}
