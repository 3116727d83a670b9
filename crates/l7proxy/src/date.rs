//! The `Date` header (IMF-fixdate, RFC 9110 §5.6.7), formatted once per
//! second per worker.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1-12, day, weekday 0 = Thursday) of seconds since the epoch.
fn civil(secs: u64) -> (i64, i64, i64, u64) {
    let days = secs / 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, days % 7)
}

/// (hours, minutes, seconds) of the day, in UTC, of seconds since the epoch.
fn clock(secs: u64) -> (u64, u64, u64) {
    let rem = secs % 86_400;
    (rem / 3600, rem % 3600 / 60, rem % 60)
}

fn month_name(month: i64) -> &'static str {
    MONTHS[usize::try_from(month - 1).unwrap_or(0)]
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since the epoch.
pub fn imf_fixdate(secs: u64) -> String {
    let (year, month, day, weekday) = civil(secs);
    let (h, m, s) = clock(secs);
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        DAYS[usize::try_from(weekday).unwrap_or(0)],
        month_name(month),
    )
}

/// The time at the head of an error log line (in UTC:
/// `1994/11/06 08:49:37`).
pub fn error_log_time(secs: u64) -> String {
    let (year, month, day, _) = civil(secs);
    let (h, m, s) = clock(secs);
    format!("{year}/{month:02}/{day:02} {h:02}:{m:02}:{s:02}")
}

/// nginx's `$time_local` (in UTC: `06/Nov/1994:08:49:37 +0000`).
pub fn time_local(secs: u64) -> String {
    let (year, month, day, _) = civil(secs);
    let (h, m, s) = clock(secs);
    format!(
        "{day:02}/{}/{year}:{h:02}:{m:02}:{s:02} +0000",
        month_name(month)
    )
}

thread_local! {
    static CACHE: RefCell<(u64, Option<HeaderValue>)> = const { RefCell::new((u64::MAX, None)) };
}

/// The current `Date` value, cached for the second.
pub fn now() -> HeaderValue {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs || c.1.is_none() {
            *c = (secs, HeaderValue::from_str(&imf_fixdate(secs)).ok());
        }
        c.1.clone()
            .unwrap_or_else(|| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
    })
}

/// nginx's `$time_iso8601` (in UTC: `1994-11-06T08:49:37+00:00`).
pub fn time_iso8601(secs: u64) -> String {
    let (year, month, day, _) = civil(secs);
    let rem = secs % 86_400;
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::imf_fixdate;

    #[test]
    fn formats_known_instants() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(super::time_local(784_111_777), "06/Nov/1994:08:49:37 +0000");
        assert_eq!(super::error_log_time(784_111_777), "1994/11/06 08:49:37");
        // Checked with `date -u -d @1795505000`.
        assert_eq!(imf_fixdate(1_795_505_000), "Tue, 24 Nov 2026 07:23:20 GMT");
    }
}
