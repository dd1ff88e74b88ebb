//! Small pieces every wire format shares: UTC timestamps formatted without chrono's general
//! formatter (ticks format hundreds of thousands of them), and lists of shared strings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// Calendar fields of a UTC instant: year, month, day, hour, minute, second, millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl Civil {
    /// Howard Hinnant's days-to-civil algorithm; exact for the proleptic Gregorian calendar.
    pub fn of(at: DateTime<Utc>) -> Civil {
        let secs = at.timestamp();
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
            millis: at.timestamp_subsec_millis().min(999),
        }
    }

    /// `YYYYMMDDHHMMSS` as ASCII digits (years outside 0..=9999 are clamped).
    pub fn compact(&self) -> [u8; 14] {
        let mut out = [b'0'; 14];
        put_digits(&mut out[0..4], self.year.clamp(0, 9999) as u32);
        put_digits(&mut out[4..6], self.month);
        put_digits(&mut out[6..8], self.day);
        put_digits(&mut out[8..10], self.hour);
        put_digits(&mut out[10..12], self.minute);
        put_digits(&mut out[12..14], self.second);
        out
    }
}

/// Writes `value` right-aligned in `out` as decimal digits, zero-padded; higher digits that
/// do not fit are dropped.
pub(crate) fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A UTC instant as RFC 3339: `2025-01-31T09:30:00Z`, with `.mmm` milliseconds when they
/// are not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub DateTime<Utc>);

impl Rfc3339 {
    fn write(&self, buf: &mut [u8; 24]) -> usize {
        let c = Civil::of(self.0);
        let compact = c.compact();
        buf[..4].copy_from_slice(&compact[0..4]);
        buf[4] = b'-';
        buf[5..7].copy_from_slice(&compact[4..6]);
        buf[7] = b'-';
        buf[8..10].copy_from_slice(&compact[6..8]);
        buf[10] = b'T';
        buf[11..13].copy_from_slice(&compact[8..10]);
        buf[13] = b':';
        buf[14..16].copy_from_slice(&compact[10..12]);
        buf[16] = b':';
        buf[17..19].copy_from_slice(&compact[12..14]);
        if c.millis == 0 {
            buf[19] = b'Z';
            return 20;
        }
        buf[19] = b'.';
        put_digits(&mut buf[20..23], c.millis);
        buf[23] = b'Z';
        24
    }
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; 24];
        let len = self.write(&mut buf);
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        let len = self.write(&mut buf);
        match std::str::from_utf8(&buf[..len]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => Err(serde::ser::Error::custom("timestamp is not ASCII")),
        }
    }
}

/// A slice of shared strings serialized as a JSON array of strings, each optionally
/// renamed through `map` (Loxysoft skill codes).
pub(crate) struct StrList<'a, F: Fn(&'a str) -> &'a str> {
    pub items: &'a [Arc<str>],
    pub map: F,
}

impl<'a, F: Fn(&'a str) -> &'a str> Serialize for StrList<'a, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            seq.serialize_element((self.map)(item))?;
        }
        seq.end()
    }
}

/// The identity for [`StrList`].
pub(crate) fn same(s: &str) -> &str {
    s
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike};

    use super::*;

    #[test]
    fn civil_fields_match_chrono_across_eras_and_leap_days() {
        let samples = [
            0i64,
            951_782_400,   // 2000-02-29
            1_709_164_800, // 2024-02-29
            4_102_444_799, // 2099-12-31T23:59:59
            -86_400,       // 1969-12-31
            253_402_300_799,
        ];
        for secs in samples.into_iter().chain((0..2000).map(|i| i * 7_654_321)) {
            let at = Utc.timestamp_opt(secs, 250_000_000).unwrap();
            let c = Civil::of(at);
            assert_eq!(
                (c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis),
                (i64::from(at.year()), at.month(), at.day(), at.hour(), at.minute(), at.second(), 250),
                "{at}"
            );
        }
    }

    #[test]
    fn rfc3339_has_milliseconds_only_when_not_zero() {
        let at = Utc.with_ymd_and_hms(2025, 1, 31, 9, 30, 5).unwrap();
        assert_eq!(Rfc3339(at).to_string(), "2025-01-31T09:30:05Z");
        let later = at + chrono::Duration::milliseconds(42);
        assert_eq!(Rfc3339(later).to_string(), "2025-01-31T09:30:05.042Z");
        assert_eq!(serde_json::to_string(&Rfc3339(later)).unwrap(), "\"2025-01-31T09:30:05.042Z\"");
    }
}
