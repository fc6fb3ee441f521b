//! Strict base64url (RFC 4648 §5, no padding), as JWS requires.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes unpadded base64url; rejects padding, the standard alphabet, whitespace and
/// non-canonical trailing bits.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Encodes as unpadded base64url.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode("+/8"), None);
        assert_eq!(decode("AQ=="), None);
        assert_eq!(decode("AQ"), Some(vec![1]));
        assert_eq!(decode("AR"), None, "non-canonical trailing bits");
        assert_eq!(decode("A QAB"), None);
        assert_eq!(encode(&[1, 0, 1]), "AQAB");
    }
}
