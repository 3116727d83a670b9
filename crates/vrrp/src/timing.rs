//! Time as an input: the [`Instant`] the daemon passes in, and the RFC timer formulas.

use std::ops::Add;
use std::time::Duration;

use crate::packet::{AdvertInterval, Version};

/// A point on the daemon's monotonic clock, as the time elapsed since an origin the daemon
/// picks (typically its start). The state machine never reads a clock itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The instant `elapsed` after the daemon's origin.
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant(elapsed)
    }

    /// Time since the origin.
    pub const fn elapsed(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}

/// Skew_Time: RFC 3768 §6.1 `(256 - Priority) / 256` seconds for VRRPv2, RFC 5798 §6.1
/// `((256 - Priority) * Master_Adver_Interval) / 256` for VRRPv3. Computed in whole
/// microseconds, truncating, as keepalived does.
pub fn skew_time(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
) -> Duration {
    let base_micros: u64 = match version {
        Version::V2 => 1_000_000,
        Version::V3 => u64::from(master_adver_interval.centis()) * 10_000,
    };
    Duration::from_micros((256 - u64::from(priority)) * base_micros / 256)
}

/// Master_Down_Interval: `adverts × Master_Adver_Interval + Skew_Time` (RFC 3768 §6.1 and
/// RFC 5798 §6.1 with `adverts` = 3; keepalived's `down_timer_adverts` can change it).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
    adverts: u32,
) -> Duration {
    master_adver_interval.as_duration() * adverts
        + skew_time(version, priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(c: u16) -> AdvertInterval {
        AdvertInterval::from_centis(c).unwrap()
    }

    /// `skew_time(version, priority, cs(centis))` is `micros` for each
    /// `(priority, centis, micros)`.
    fn assert_skews(version: Version, cases: &[(u8, u16, u64)]) {
        for &(priority, centis, micros) in cases {
            assert_eq!(
                skew_time(version, priority, cs(centis)),
                Duration::from_micros(micros),
                "{version:?} priority {priority} interval {centis} cs"
            );
        }
    }

    #[test]
    fn rfc3768_6_1_skew_is_independent_of_interval() {
        assert_skews(
            Version::V2,
            &[
                (150, 100, 414_062),
                (150, 300, 414_062),
                (255, 100, 3_906),
                (1, 100, 996_093),
            ],
        );
    }

    #[test]
    fn rfc5798_6_1_skew_scales_with_master_interval() {
        assert_skews(
            Version::V3,
            &[
                (150, 100, 414_062),
                (150, 10, 41_406),
                (100, 4095, 24_953_906),
            ],
        );
    }

    #[test]
    fn rfc3768_6_1_master_down_interval_is_three_intervals_plus_skew() {
        let d = master_down_interval(Version::V2, 100, cs(100), 3);
        assert_eq!(d, Duration::from_micros(3_609_375));
        let d = master_down_interval(Version::V3, 200, cs(10), 3);
        assert_eq!(d, Duration::from_micros(300_000 + 21_875));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let a = Instant::from_elapsed(Duration::from_secs(1));
        let b = a + Duration::from_millis(500);
        assert_eq!(b.saturating_duration_since(a), Duration::from_millis(500));
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(
            (Instant::from_elapsed(Duration::MAX) + Duration::from_secs(1)).elapsed(),
            Duration::MAX
        );
    }
}
