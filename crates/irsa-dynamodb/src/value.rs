//! Key attribute values as `dynamodb:LeadingKeys` sees them: the string of an `S`, the
//! number of an `N` in DynamoDB's normal form (`"01"`, `"1.0"` and `"1e0"` name the same
//! item as `"1"`), the bytes of a `B` in canonical base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{MapError, validation};
use crate::json::{self, Members, Raw, Str};

/// DynamoDB's most significant digits in a number.
const MAX_DIGITS: usize = 38;

/// The condition-key string of a key attribute value (`{"S": …}`, `{"N": …}` or
/// `{"B": …}`); anything else is DynamoDB's key-schema mismatch.
pub(crate) fn key_string(raw: Raw<'_>) -> Result<String, MapError> {
    let members: Members<'_, Str<'_>, 10> = json::parse(raw).map_err(|_| mismatch())?;
    let [(kind, value)] = members.0.as_slice() else {
        return Err(mismatch());
    };
    match kind.as_str() {
        "S" => Ok(value.as_str().to_owned()),
        "N" => normal_number(value.as_str()),
        "B" => {
            let bytes = STANDARD.decode(value.as_str()).map_err(|_| {
                MapError::Validation(
                    "One or more parameter values were invalid: Invalid binary value".to_owned(),
                )
            })?;
            Ok(STANDARD.encode(bytes))
        }
        _ => Err(mismatch()),
    }
}

fn mismatch() -> MapError {
    MapError::Validation("The provided key element does not match the schema".to_owned())
}

/// A DynamoDB number in its normal form: no exponent, no leading or trailing zeros, no
/// `+`, `-0` as `0`. Refuses what DynamoDB refuses (not a number, over 38 significant
/// digits, magnitude outside 1E-130..1E+126).
pub(crate) fn normal_number(s: &str) -> Result<String, MapError> {
    let bad = || {
        MapError::Validation(format!(
            "A value provided cannot be converted into a number: {}",
            crate::scope::shown(s)
        ))
    };
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            Some(rest.get(i + 1..).unwrap_or_default()),
        ),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            e.parse().map_err(|_| bad())?
        }
    };
    // value = 0.DIGITS × 10^(point) with DIGITS stripped of leading zeros.
    let all: String = int.chars().chain(frac.chars()).collect();
    exp += i64::try_from(int.len()).map_err(|_| bad())?;
    let lead = all.bytes().take_while(|&b| b == b'0').count();
    let digits = all.get(lead..).unwrap_or_default().trim_end_matches('0');
    if digits.is_empty() {
        return Ok("0".to_owned());
    }
    exp -= i64::try_from(lead).map_err(|_| bad())?;
    if digits.len() > MAX_DIGITS {
        return validation("Attempting to store more than 38 significant digits in a Number");
    }
    // Magnitude: 10^(exp-1) ≤ |value| < 10^exp.
    if exp > 126 {
        return validation(
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        );
    }
    if exp - 1 < -130 {
        return validation(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        );
    }
    Ok(positional(negative, digits, exp))
}

/// `0.DIGITS × 10^exp` written without an exponent (`digits` has no leading or trailing
/// zeros).
fn positional(negative: bool, digits: &str, exp: i64) -> String {
    let n = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let mut out = String::with_capacity(digits.len() + 140);
    if negative {
        out.push('-');
    }
    if exp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-exp).unwrap_or(0)));
        out.push_str(digits);
    } else if exp >= n {
        out.push_str(digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(exp - n).unwrap_or(0),
        ));
    } else {
        let at = usize::try_from(exp).unwrap_or(0);
        out.push_str(digits.get(..at).unwrap_or_default());
        out.push('.');
        out.push_str(digits.get(at..).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn key(json: &str) -> Result<String, MapError> {
        key_string(&RawValue::from_string(json.to_owned()).unwrap())
    }

    #[test]
    fn numbers_normalize() {
        for (input, normal) in [
            ("1", "1"),
            ("01", "1"),
            ("1.0", "1"),
            ("1e0", "1"),
            ("1E2", "100"),
            ("+5", "5"),
            ("-0", "0"),
            ("0.000", "0"),
            ("-0012.3400", "-12.34"),
            ("123.45e-2", "1.2345"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e-3", "0.001"),
            ("10e-1", "1"),
            ("12345e-2", "123.45"),
        ] {
            assert_eq!(normal_number(input).unwrap(), normal, "{input}");
        }
        for bad in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "abc",
            "1.2.3",
            "0x10",
            " 1",
            "1 ",
            "NaN",
            "Infinity",
            "1e9999999",
        ] {
            assert!(normal_number(bad).is_err(), "{bad:?}");
        }
        assert!(normal_number(&"1".repeat(39)).is_err());
        assert!(normal_number("1e126").is_err());
        assert!(normal_number("9.9e125").is_ok());
        assert!(normal_number("1e-130").is_ok());
        assert!(normal_number("1e-131").is_err());
    }

    #[test]
    fn key_values() {
        assert_eq!(key(r#"{"S": "alice"}"#).unwrap(), "alice");
        assert_eq!(key(r#"{"S": "\u0061lice"}"#).unwrap(), "alice");
        assert_eq!(key(r#"{"N": "007"}"#).unwrap(), "7");
        assert_eq!(key(r#"{"B": "YWxpY2U="}"#).unwrap(), "YWxpY2U=");
        for bad in [
            r#"{"S": "a", "N": "1"}"#,
            r#"{"S": "a", "S": "b"}"#,
            r#"{"M": {}}"#,
            r#"{"NULL": true}"#,
            r#"{"S": 1}"#,
            r#"{}"#,
            r#""alice""#,
            r#"{"B": "not base64!"}"#,
        ] {
            assert!(key(bad).is_err(), "{bad}");
        }
    }
}
