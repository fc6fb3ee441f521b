//! Percent-encoding and hex helpers with the exact rules SigV4 uses.
//!
//! SigV4 encodes every byte except the RFC 3986 unreserved characters
//! (`A-Z a-z 0-9 - _ . ~`) as `%XY` with upper-case hex digits.

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// The hex digit for the low nibble of `n`.
fn digit(table: &[u8; 16], n: u8) -> char {
    table
        .get(usize::from(n & 0x0f))
        .map_or('0', |&d| char::from(d))
}

fn push_escaped(out: &mut String, b: u8) {
    out.push('%');
    out.push(digit(UPPER_HEX, b >> 4));
    out.push(digit(UPPER_HEX, b));
}

/// Encodes `input` byte by byte; `/` is kept when `keep_slash` is set (paths).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `input`. An invalid escape is kept literally (as browsers and
/// `application/x-www-form-urlencoded` parsers do). With `plus_as_space`, `+` means
/// a space (query strings); paths keep `+` as is.
pub(crate) fn percent_decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            let hi = input.get(i + 1).copied().and_then(hex_value);
            let lo = input.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            out.push(b);
        } else if b == b'+' && plus_as_space {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(digit(LOWER_HEX, b >> 4));
        out.push(digit(LOWER_HEX, b));
    }
    out
}

/// Decodes exactly 32 bytes of hex (either case); `None` for anything else.
pub(crate) fn hex_decode_32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
            _ => return None,
        };
        *slot = hi << 4 | lo;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(uri_encode(b"a b/c~d*e+f=", false), "a%20b%2Fc~d%2Ae%2Bf%3D");
        assert_eq!(uri_encode(b"/a b/c", true), "/a%20b/c");
        assert_eq!(uri_encode("ሴ".as_bytes(), false), "%E1%88%B4");
        assert_eq!(uri_encode(b"%20", true), "%2520");
    }

    #[test]
    fn decodes_with_and_without_plus() {
        assert_eq!(percent_decode(b"a+b%20c", true), b"a b c");
        assert_eq!(percent_decode(b"a+b%20c", false), b"a+b c");
        assert_eq!(percent_decode(b"100%", true), b"100%");
        assert_eq!(percent_decode(b"%zz%4", true), b"%zz%4");
        assert_eq!(percent_decode(b"%e1%88%b4", true), "ሴ".as_bytes());
    }

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex = hex_lower(&bytes);
        assert_eq!(hex_decode_32(&hex).map(|a| a.to_vec()), Some(bytes));
        assert_eq!(
            hex_decode_32(&hex.to_uppercase()).map(|a| a.len()),
            Some(32)
        );
        assert!(hex_decode_32("zz").is_none());
        assert!(hex_decode_32(&"g".repeat(64)).is_none());
    }
}
