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
    t.to_offset(time::UtcOffset::UTC)
        .format(AMZ_DATE)
        .unwrap_or_default()
}

/// Formats unix seconds as `YYYYMMDDTHHMMSSZ`; out-of-range values print as
/// the number of seconds.
pub(crate) fn format_amz_date_unix(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t).map_or_else(|_| t.to_string(), format_amz_date)
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
}
