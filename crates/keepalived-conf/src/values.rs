//! Scalar values as keepalived reads them: booleans, integers in ranges and
//! timers in decimal seconds (microsecond resolution), with its messages.

/// `on|off|true|false|yes|no` (keepalived's `check_true_false`).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An unsigned integer in `[min, max]`; the error is keepalived's text.
pub fn parse_unsigned(s: &str, min: u64, max: u64) -> Result<u64, String> {
    if s.starts_with('-') {
        return Err(format!("negative number '{s}'"));
    }
    let v: u64 = s.parse().map_err(|_| format!("invalid number '{s}'"))?;
    if v < min || v > max {
        return Err(format!("number '{s}' outside range [{min}, {max}]"));
    }
    Ok(v)
}

/// A signed integer in `[min, max]`.
pub fn parse_int(s: &str, min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = s.parse().map_err(|_| format!("invalid number '{s}'"))?;
    if v < min || v > max {
        return Err(format!("number '{s}' outside range [{min}, {max}]"));
    }
    Ok(v)
}

fn fmt_micros(v: u64) -> String {
    format!("{}.{:06}", v / 1_000_000, v % 1_000_000)
}

/// Decimal seconds with at most 6 decimal places, in microseconds, within
/// `[min, max]` microseconds (keepalived's `read_decimal_unsigned(..., 6)`).
pub fn parse_timer(s: &str, min: u64, max: u64) -> Result<u64, String> {
    if s.starts_with('-') {
        return Err(format!("negative number '{s}'"));
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 6 {
        return Err(format!("number '{s}' has too many decimal places"));
    }
    let ok_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !ok_digits(int) || !ok_digits(frac) {
        return Err(format!("invalid number '{s}'"));
    }
    let i: u64 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| format!("number '{s}' outside unsigned decimal range"))?
    };
    let f: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
    let v = i
        .checked_mul(1_000_000)
        .and_then(|x| x.checked_add(f))
        .ok_or_else(|| format!("number '{s}' outside unsigned decimal range"))?;
    if v < min || v > max {
        return Err(format!(
            "number '{s}' outside range [{}, {}]",
            fmt_micros(min),
            fmt_micros(max)
        ));
    }
    Ok(v)
}

/// Largest timer keepalived accepts (`UINT_MAX` microseconds).
pub const TIMER_MAX: u64 = u32::MAX as u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["on", "true", "yes"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["off", "false", "no"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("1"), None);
    }

    #[test]
    fn timers_have_microsecond_resolution() {
        assert_eq!(parse_timer("1.5", 1, TIMER_MAX), Ok(1_500_000));
        assert_eq!(parse_timer("0.000001", 1, TIMER_MAX), Ok(1));
        assert_eq!(
            parse_timer("0", 1, TIMER_MAX).unwrap_err(),
            "number '0' outside range [0.000001, 4294.967295]"
        );
        assert!(parse_timer("1.0000001", 0, TIMER_MAX)
            .unwrap_err()
            .contains("too many decimal"));
        assert!(parse_timer("x", 0, TIMER_MAX)
            .unwrap_err()
            .contains("invalid number"));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_unsigned("51", 1, 255), Ok(51));
        assert_eq!(
            parse_unsigned("256", 1, 255).unwrap_err(),
            "number '256' outside range [1, 255]"
        );
        assert_eq!(parse_int("-4", -254, 254), Ok(-4));
    }
}
