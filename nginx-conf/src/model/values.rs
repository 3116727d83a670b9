//! nginx's time and size syntax (`ngx_parse_time`, `ngx_parse_size`, `ngx_parse_offset`).

use std::time::Duration;

/// The values `proxy_next_upstream` takes (`ngx_http_proxy_next_upstream_masks`).
const NEXT_UPSTREAM: [&str; 12] = [
    "error",
    "timeout",
    "invalid_header",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "http_403",
    "http_404",
    "http_429",
    "non_idempotent",
    "off",
];

/// The first argument of `proxy_next_upstream` that is not one of its
/// values (nginx says `invalid value "{bad}"`).
pub(crate) fn bad_next_upstream(args: &[String]) -> Option<&str> {
    args.iter()
        .map(String::as_str)
        .find(|a| !NEXT_UPSTREAM.contains(a))
}

/// Units in the order nginx demands them, with their length in milliseconds.
const UNITS: [(&str, u64); 8] = [
    ("y", 365 * 24 * 3_600_000),
    ("M", 30 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

fn parse_time_ms(text: &str, seconds: bool) -> Option<u64> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut value: u64 = 0;
    let mut valid = false;
    // Index into UNITS of the last unit used; the next must come later.
    let mut step: Option<usize> = if seconds { None } else { Some(1) };
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            valid = true;
            i += 1;
            continue;
        }
        let unit = if b == b'm' && bytes.get(i + 1) == Some(&b's') {
            if seconds {
                return None;
            }
            i += 2;
            7
        } else {
            i += 1;
            UNITS.iter().position(|(u, _)| u.as_bytes() == [b])?
        };
        if step.is_some_and(|s| unit <= s) {
            return None;
        }
        step = Some(unit);
        total = total.checked_add(value.checked_mul(UNITS[unit].1)?)?;
        value = 0;
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    if !valid {
        return None;
    }
    total.checked_add(value.checked_mul(1000)?)
}

/// A duration in nginx's syntax where a bare number means seconds and
/// milliseconds are allowed (`proxy_read_timeout 1m30s`, `500ms`, `60`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_time_ms(text, false).map(Duration::from_millis)
}

/// A duration in whole seconds (`fail_timeout=30s`, `keepalive_timeout`-style
/// directives that take `ngx_parse_time(.., 1)`): `y` and `M` allowed, `ms` not.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    parse_time_ms(text, true).map(Duration::from_millis)
}

fn parse_scaled(text: &str, allow_g: bool) -> Option<u64> {
    let (digits, scale) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1024),
        b'm' | b'M' => (&text[..text.len() - 1], 1024 * 1024),
        b'g' | b'G' if allow_g => (&text[..text.len() - 1], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// A size: bytes, or `k`/`m` suffixed (`4k`, `1m`).
pub fn parse_size(text: &str) -> Option<u64> {
    parse_scaled(text, false)
}

/// An offset: like a size, `g` allowed too.
pub fn parse_offset(text: &str) -> Option<u64> {
    parse_scaled(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Some(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("30s1m"), None, "units must descend");
        assert_eq!(
            parse_duration("1y"),
            None,
            "years only where seconds are parsed"
        );
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_seconds("1y"), Some(Duration::from_secs(365 * 86_400)));
        assert_eq!(parse_seconds("5ms"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("1g"), None);
        assert_eq!(parse_offset("1g"), Some(1 << 30));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("-1"), None);
    }
}
