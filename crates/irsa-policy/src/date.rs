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
    if dp.next().is_some()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut nanos: i128 = 0;
    if let Some(time) = time {
        // Split off the zone designator.
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else if let Some(i) = time.rfind(['+', '-']) {
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
            (time.get(..i)?, sign * (h * 3600 + m * 60))
        } else {
            (time, 0)
        };
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
        let sec: i64 = match sec_text {
            Some(st) => {
                let (whole, frac) = match st.split_once('.') {
                    Some((w, f)) => (w, Some(f)),
                    None => (st, None),
                };
                if let Some(f) = frac {
                    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let padded = format!("{f:0<9}");
                    nanos = padded.parse::<i128>().ok()?;
                }
                num(whole, 2)?
            }
            None => 0,
        };
        if sec > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + sec - offset;
    }
    Some(i128::from(secs) * 1_000_000_000 + nanos)
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

/// A number of exactly `width` digits (a year may have 4 or more).
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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
