//! Percent-encoding and hex with the exact rules SigV4 uses.
//!
//! SigV4 encodes every byte except the RFC 3986 unreserved characters
//! (`A-Z a-z 0-9 - _ . ~`) as `%XY` with upper-case hex digits; paths keep `/`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Everything but the RFC 3986 unreserved characters (query keys and values).
const SIGV4: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`SIGV4`] less `/` (paths).
const SIGV4_PATH: &AsciiSet = &SIGV4.remove(b'/');

/// Encodes `input` byte by byte; `/` is kept when `keep_slash` is set (paths).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let set = if keep_slash { SIGV4_PATH } else { SIGV4 };
    percent_encoding::percent_encode(input, set).to_string()
}

/// Percent-decodes `input`. An invalid escape is kept literally (as browsers and
/// `application/x-www-form-urlencoded` parsers do). With `plus_as_space`, `+` means
/// a space (query strings); paths keep `+` as is.
pub(crate) fn percent_decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    if plus_as_space && input.contains(&b'+') {
        let spaced: Vec<u8> = input
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        return percent_encoding::percent_decode(&spaced).collect();
    }
    percent_encoding::percent_decode(input).collect()
}

/// Lower-case hex of `bytes` (written into one buffer: `hex::encode` pushes char by char).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    if hex::encode_to_slice(bytes, &mut out).is_err() {
        return hex::encode(bytes);
    }
    String::from_utf8(out).unwrap_or_else(|_| hex::encode(bytes))
}

/// Decodes exactly 32 bytes of hex (either case); `None` for anything else.
pub(crate) fn hex_decode_32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
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
