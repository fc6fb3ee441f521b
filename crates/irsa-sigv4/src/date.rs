//! The two date formats SigV4 accepts, and the format it signs with.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `X-Amz-Date` format, ISO 8601 basic: `20150830T123600Z`.
const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
/// HTTP `Date` header format (RFC 7231 IMF-fixdate): `Sun, 30 Aug 2015 12:36:00 GMT`.
const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const SCOPE_DATE: &[FormatItem<'static>] = format_description!("[year][month][day]");

/// Parses an `X-Amz-Date` value.
pub(crate) fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(value, AMZ_DATE)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Parses a `Date` header value: IMF-fixdate or ISO 8601 basic.
pub(crate) fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    parse_amz_date(value).or_else(|| {
        PrimitiveDateTime::parse(value, HTTP_DATE)
            .ok()
            .map(PrimitiveDateTime::assume_utc)
    })
}

/// Formats as `YYYYMMDDTHHMMSSZ` (UTC).
pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    format_amz_date_unix(t.unix_timestamp())
}

/// Formats unix seconds as `YYYYMMDDTHHMMSSZ`; values outside years 0–9999 print as
/// the number of seconds.
pub(crate) fn format_amz_date_unix(t: i64) -> String {
    let mut out = [0u8; 16];
    if write_amz_date(t, &mut out) {
        String::from_utf8_lossy(&out).into_owned()
    } else {
        t.to_string()
    }
}

/// Writes unix seconds `t` as `YYYYMMDDTHHMMSSZ` (UTC) into `out`, digit by digit;
/// `false` (and `out` unspecified) outside years 0–9999.
pub(crate) fn write_amz_date(t: i64, out: &mut [u8; 16]) -> bool {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return false;
    }
    let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let fields = [
        (year / 100, 0),
        (year % 100, 2),
        (month, 4),
        (day, 6),
        (hour, 9),
        (minute, 11),
        (second, 13),
    ];
    for (value, at) in fields {
        // Each value is in 0..100: two digits.
        let tens = u8::try_from(value / 10).unwrap_or(0);
        let ones = u8::try_from(value % 10).unwrap_or(0);
        if let Some(pair) = out.get_mut(at..at + 2) {
            pair.copy_from_slice(&[b'0' + tens, b'0' + ones]);
        }
    }
    for (at, letter) in [(8, b'T'), (15, b'Z')] {
        if let Some(b) = out.get_mut(at) {
            *b = letter;
        }
    }
    true
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats as `YYYYMMDD` (UTC), the date of a credential scope.
pub(crate) fn format_scope_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(SCOPE_DATE)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_both_formats() {
        let t = datetime!(2015-08-30 12:36:00 UTC);
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(t));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        assert_eq!(parse_http_date("20150830T123600Z"), Some(t));
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
        assert_eq!(parse_amz_date("20150830T123600"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_scope_date(t), "20150830");
    }

    #[test]
    fn digit_by_digit_dates_agree_with_the_time_crate() {
        let by_time = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(AMZ_DATE)
                .unwrap()
        };
        // Every day of a 400-year cycle (and around it), at a time of day that moves.
        let start = -62_135_596_800_i64; // 0001-01-01
        let mut t = start;
        let mut step = 0;
        while t < 253_402_300_799 {
            assert_eq!(format_amz_date_unix(t), by_time(t), "{t}");
            step = (step + 7919) % 86_400;
            t += 86_400 * 97 + step;
        }
        for t in [
            0,
            -1,
            1,
            951_782_400,
            4_107_456_000,
            253_402_300_799,
            -62_167_219_200,
        ] {
            assert_eq!(format_amz_date_unix(t), by_time(t), "{t}");
        }
        for day in 0..146_097 {
            let t = 946_684_800 + day * 86_400 + (day * 3_331) % 86_400;
            assert_eq!(format_amz_date_unix(t), by_time(t), "{t}");
        }
        assert_eq!(format_amz_date_unix(253_402_300_800), "253402300800");
        assert_eq!(format_amz_date_unix(-62_167_219_201), "-62167219201");
    }
}
