//! Date values for `Date*` operators: W3C ISO 8601 profiles or epoch seconds, as
//! nanoseconds since 1970-01-01T00:00:00Z.

/// Parses a date value. A value with neither `t`/`T` nor `-` is epoch seconds (integer or
/// decimal); otherwise an ISO 8601 profile: `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm`,
/// `...:ss`, `...:ss.s+`, each with an optional `Z` or `±hh[:mm]` zone (default UTC).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.contains(['t', 'T', '-']) {
        return parse_epoch(s);
    }
    let (date, time) = match s.find(['t', 'T']) {
        Some(i) => (s.get(..i)?, Some(s.get(i + 1..)?)),
        None => (s, None),
    };
    let mut secs = parse_calendar_date(date)?;
    let mut nanos: i128 = 0;
    if let Some(time) = time {
        let (clock, offset) = split_zone(time)?;
        let (clock_secs, clock_nanos) = parse_clock(clock)?;
        secs += clock_secs - offset;
        nanos = clock_nanos;
    }
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a missing month or day is 1): seconds since the epoch
/// at its midnight UTC.
fn parse_calendar_date(date: &str) -> Option<i64> {
    let mut dp = date.split('-');
    let year: i64 = num(dp.next()?, 4)?;
    let month: i64 = match dp.next() {
        Some(m) => num(m, 2)?,
        None => 1,
    };
    let day: i64 = match dp.next() {
        Some(d) => num(d, 2)?,
        None => 1,
    };
    if dp.next().is_some() {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// Splits the time of day from its zone designator (`Z`, `±hh`, `±hhmm`, `±hh:mm`; none:
/// UTC): the clock text and the zone's offset east of UTC in seconds.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(c) = time.strip_suffix(['Z', 'z']) {
        return Some((c, 0));
    }
    let Some(i) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let sign = if time.get(i..i + 1) == Some("-") {
        -1
    } else {
        1
    };
    let z = time.get(i + 1..)?;
    let (h, m) = match z.split_once(':') {
        Some((h, m)) => (num(h, 2)?, num(m, 2)?),
        None if z.len() == 4 => (num(z.get(..2)?, 2)?, num(z.get(2..)?, 2)?),
        None => (num(z, 2)?, 0),
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some((time.get(..i)?, sign * (h * 3600 + m * 60)))
}

/// `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.s+` (up to nine fraction digits): whole seconds
/// since midnight and the fraction in nanoseconds.
fn parse_clock(clock: &str) -> Option<(i64, i128)> {
    let mut cp = clock.split(':');
    let h: i64 = num(cp.next()?, 2)?;
    let mi: i64 = match cp.next() {
        Some(m) => num(m, 2)?,
        None => 0,
    };
    let sec_text = cp.next();
    if cp.next().is_some() || h > 23 || mi > 59 {
        return None;
    }
    let (sec, nanos) = match sec_text {
        Some(st) => parse_seconds(st)?,
        None => (0, 0),
    };
    if sec > 60 {
        return None;
    }
    Some((h * 3600 + mi * 60 + sec, nanos))
}

/// `ss` or `ss.s+` (one to nine fraction digits): the whole seconds and the fraction in
/// nanoseconds.
fn parse_seconds(st: &str) -> Option<(i64, i128)> {
    let (whole, frac) = match st.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (st, None),
    };
    let mut nanos = 0;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{f:0<9}");
        nanos = padded.parse::<i128>().ok()?;
    }
    Some((num(whole, 2)?, nanos))
}

fn parse_epoch(s: &str) -> Option<i128> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 19 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: i128 = whole.parse().ok()?;
    let f: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(w * 1_000_000_000 + f)
}

/// A number of exactly `width` digits (a year may have 4 or more; the calendar takes years
/// up to 9999).
fn num(s: &str, width: usize) -> Option<i64> {
    let ok = if width == 4 {
        s.len() >= 4 && s.len() <= 9
    } else {
        s.len() == width
    };
    if !ok || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn profiles() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400 * S));
        assert_eq!(parse_date("2020-01-01T00:00:00Z"), Some(1_577_836_800 * S));
        assert_eq!(
            parse_date("2020-01-01T01:00:00+01:00"),
            Some(1_577_836_800 * S)
        );
        assert_eq!(
            parse_date("2019-12-31T23:00:00-01:00"),
            Some(1_577_836_800 * S)
        );
        assert_eq!(parse_date("2020-01-01T00:00Z"), Some(1_577_836_800 * S));
        assert_eq!(parse_date("2020-01"), Some(1_577_836_800 * S));
        assert_eq!(
            parse_date("2020-01-01T00:00:00.5Z"),
            Some(1_577_836_800 * S + S / 2)
        );
        assert_eq!(parse_date("2020-01-01t00:00:00z"), Some(1_577_836_800 * S));
        assert_eq!(parse_date("1577836800"), Some(1_577_836_800 * S));
        assert_eq!(parse_date("2024-02-29"), parse_date("1709164800"));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "2020-13-01",
            "2020-02-30",
            "2021-02-29",
            "2020-01-01T25:00:00Z",
            "abc",
            "2020-01-01T00:00:00+5",
            "12.x",
            "2020-1-1",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
