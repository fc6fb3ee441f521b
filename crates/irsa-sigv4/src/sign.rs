//! Signing a request (the `Authorization` header form) with the same canonicalization the
//! verifier uses, and a bounded cache of signing keys.
//!
//! A signing key depends only on the secret, the day, the region and the service, so a
//! server that signs or verifies many requests with the same credentials derives it once
//! a day instead of once a request (five HMAC-SHA256 key set-ups and four signatures).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::{digest, hmac};

use crate::canonical::{UriEncoding, canonical_query, canonical_uri, header_values, parse_query};
use crate::date::write_amz_date;
use crate::verify::{ALGORITHM, TERMINATOR, signing_key};

/// Signing keys already derived, by a SHA-256 digest of (secret, date, region, service).
///
/// Entries are found by that digest, never by the secret: neither the secret nor anything
/// compared in variable time against it is kept. The derived keys are as sensitive as the
/// secret for their day; `Debug` shows only how many there are. Past `max` entries the
/// cache is emptied (a day's keys are derived again on their next use).
pub struct SigningKeyCache {
    keys: Mutex<HashMap<[u8; 32], hmac::Key>>,
    max: usize,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.keys.lock().map_or(0, |k| k.len());
        f.debug_struct("SigningKeyCache")
            .field("keys", &len)
            .field("max", &self.max)
            .finish()
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new(4096)
    }
}

impl SigningKeyCache {
    /// A cache of at most `max` keys (at least one).
    pub fn new(max: usize) -> SigningKeyCache {
        SigningKeyCache {
            keys: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// The signing key for `secret` on `date` (`YYYYMMDD`) in `region` for `service`.
    pub(crate) fn key(&self, secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
        let mut id = digest::Context::new(&digest::SHA256);
        for part in [secret, date, region, service] {
            id.update(&(part.len() as u64).to_be_bytes());
            id.update(part.as_bytes());
        }
        let mut name = [0u8; 32];
        name.copy_from_slice(id.finish().as_ref());
        if let Ok(keys) = self.keys.lock()
            && let Some(key) = keys.get(&name)
        {
            return key.clone();
        }
        let key = signing_key(secret, date, region, service);
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= self.max {
                keys.clear();
            }
            keys.insert(name, key.clone());
        }
        key
    }
}

/// Who signs, and for what: the credential scope of a signature.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Service of the credential scope, e.g. `dynamodb`.
    pub service: &'a str,
    /// How the path becomes the canonical URI ([`UriEncoding::S3`] for S3).
    pub uri_encoding: UriEncoding,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// `X-Amz-Date` for unix seconds `now`: `YYYYMMDDTHHMMSSZ` (UTC); `None` out of range.
pub fn amz_date(now: i64) -> Option<String> {
    let mut out = [0u8; 16];
    write_amz_date(now, &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
}

/// The `Authorization` header value signing a request.
///
/// `headers` are the headers to sign, names in lower case (as `http::HeaderName` keeps
/// them), repeated names allowed (their values are joined, as the verifier does); they
/// must include `host` and `x-amz-date` = `amz_date` (from [`amz_date`]), and the
/// session token and `x-amz-content-sha256` when the request carries them. Every header
/// given is signed. `path` and `query` are as sent on the wire; `payload_hash` is the
/// lower-case hex SHA-256 of the body or `UNSIGNED-PAYLOAD`. With `cache`, the signing key
/// is derived once per (secret, day, region, service). `None` when `amz_date` is not a
/// `YYYYMMDDTHHMMSSZ` date.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    signer: &Signer<'_>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &[u8])],
    payload_hash: &str,
    amz_date: &str,
    cache: Option<&SigningKeyCache>,
) -> Option<String> {
    let date = amz_date.get(..8).filter(|_| amz_date.len() == 16)?;
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();

    let mut canonical = Vec::with_capacity(512);
    for part in [
        method,
        &canonical_uri(path, signer.uri_encoding),
        &canonical_query(&parse_query(query), &[]).0,
    ] {
        canonical.extend_from_slice(part.as_bytes());
        canonical.push(b'\n');
    }
    for name in &names {
        canonical.extend_from_slice(name.as_bytes());
        canonical.push(b':');
        canonical.extend_from_slice(&header_values(headers, name).unwrap_or_default());
        canonical.push(b'\n');
    }
    canonical.push(b'\n');
    let signed_headers_at = canonical.len();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            canonical.push(b';');
        }
        canonical.extend_from_slice(name.as_bytes());
    }
    let signed_headers_end = canonical.len();
    canonical.push(b'\n');
    canonical.extend_from_slice(payload_hash.as_bytes());

    // The string to sign, then (in the same buffer, after it) the header value.
    let mut text = String::with_capacity(256);
    for part in [ALGORITHM, "\n", amz_date, "\n"] {
        text.push_str(part);
    }
    let scope_at = text.len();
    for part in [
        date,
        "/",
        signer.region,
        "/",
        signer.service,
        "/",
        TERMINATOR,
    ] {
        text.push_str(part);
    }
    let scope_end = text.len();
    text.push('\n');
    push_hex(
        &mut text,
        digest::digest(&digest::SHA256, &canonical).as_ref(),
    );
    let key = match cache {
        Some(cache) => cache.key(
            signer.secret_access_key,
            date,
            signer.region,
            signer.service,
        ),
        None => signing_key(
            signer.secret_access_key,
            date,
            signer.region,
            signer.service,
        ),
    };
    let signature = hmac::sign(&key, text.as_bytes());
    let signed_headers = canonical.get(signed_headers_at..signed_headers_end)?;
    let mut out = String::with_capacity(200 + signed_headers.len());
    for part in [
        ALGORITHM,
        " Credential=",
        signer.access_key_id,
        "/",
        text.get(scope_at..scope_end)?,
        ", SignedHeaders=",
        std::str::from_utf8(signed_headers).ok()?,
        ", Signature=",
    ] {
        out.push_str(part);
    }
    push_hex(&mut out, signature.as_ref());
    Some(out)
}

/// Appends the lower-case hex of `bytes` to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex_lower;
    use crate::{Request, VerifyOptions, verify};

    fn signed(cache: Option<&SigningKeyCache>, secret: &str) -> (String, String) {
        let now = 1_700_000_000;
        let date = amz_date(now).unwrap();
        let headers: Vec<(&str, &[u8])> = vec![
            ("x-amz-target", b"DynamoDB_20120810.GetItem"),
            ("host", b"127.0.0.1:8000"),
            ("x-amz-date", date.as_bytes()),
            ("content-type", b"application/x-amz-json-1.0"),
        ];
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: secret,
            region: "us-east-1",
            service: "dynamodb",
            uri_encoding: UriEncoding::Double,
        };
        let body = b"{}";
        let hash = hex_lower(digest::digest(&digest::SHA256, body).as_ref());
        let auth = authorization(
            &signer, "POST", "/", "b=2&a=1", &headers, &hash, &date, cache,
        )
        .unwrap();
        let mut all = headers.clone();
        all.push(("authorization", auth.as_bytes()));
        let request = Request {
            method: "POST",
            path: "/",
            query: "b=2&a=1",
            headers: &all,
            body,
        };
        let verified = verify(
            &request,
            &VerifyOptions::for_service("dynamodb"),
            now,
            |_| Some("secret"),
        );
        (
            auth.clone(),
            verified.map_or_else(|e| e.to_string(), |v| v.signed_headers.join(";")),
        )
    }

    #[test]
    fn signatures_verify_and_the_cache_changes_nothing() {
        let cache = SigningKeyCache::new(1);
        let (plain, verified) = signed(None, "secret");
        assert_eq!(
            verified, "content-type;host;x-amz-date;x-amz-target",
            "{plain}"
        );
        assert_eq!(signed(Some(&cache), "secret").0, plain);
        assert_eq!(signed(Some(&cache), "secret").0, plain, "from the cache");
        // Another secret is another key, cache or not, and does not verify.
        let (other, refused) = signed(Some(&cache), "secreT");
        assert_ne!(other, plain);
        assert!(refused.contains("signature"), "{refused}");
        assert_eq!(signed(Some(&cache), "secret").0, plain, "after eviction");
        assert!(!format!("{cache:?}").contains("secret"));
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(1_700_000_000).unwrap(), "20231114T221320Z");
        assert_eq!(amz_date(0).unwrap(), "19700101T000000Z");
        assert!(amz_date(i64::MAX).is_none());
        let signer = Signer {
            access_key_id: "A",
            secret_access_key: "s",
            region: "r",
            service: "s",
            uri_encoding: UriEncoding::Double,
        };
        assert!(authorization(&signer, "GET", "/", "", &[], "x", "2023", None).is_none());
    }

    /// The same signature as the AWS SDK's signer (aws-sigv4), for DynamoDB's settings and
    /// for S3's (path encoded once, not normalised, `x-amz-content-sha256` signed).
    #[test]
    fn signs_as_the_aws_sdk_does() {
        use aws_sigv4::http_request::{
            PayloadChecksumKind, PercentEncodingMode, UriPathNormalizationMode,
        };
        use irsa_test::sigv4::{Keys, Payload, Signing, sign_request};
        let keys = Keys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("tok/+=en".into()),
        };
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let cache = SigningKeyCache::default();
        let cases = [
            ("dynamodb", "http://127.0.0.1:8000/", "/", ""),
            (
                "dynamodb",
                "http://h.example:8000/a/./b//c%20d",
                "/a/./b//c%20d",
                "z=1&a=%2F",
            ),
            (
                "s3",
                "http://127.0.0.1:7070/bkt/a%20b/c~d",
                "/bkt/a%20b/c~d",
                "list-type=2&prefix=a%2Fb",
            ),
            ("s3", "http://127.0.0.1:7070/bkt/x/../y", "/bkt/x/../y", ""),
        ];
        for (service, url, path, query) in cases {
            let url = if query.is_empty() {
                url.to_owned()
            } else {
                format!("{url}?{query}")
            };
            let mut signing = Signing::new(&keys, "us-east-1", service, time);
            let encoding = if service == "s3" {
                signing.settings.percent_encoding_mode = PercentEncodingMode::Single;
                signing.settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
                signing.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
                UriEncoding::S3
            } else {
                UriEncoding::Double
            };
            let body = b"{\"TableName\":\"t\"}";
            let request = sign_request(
                &signing,
                "POST",
                &url,
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "X.Y"),
                ],
                Payload::Bytes(body),
                (),
            );
            let theirs = request.headers()["authorization"].to_str().unwrap();
            let authority = request.uri().authority().unwrap().as_str().to_owned();
            let mut headers: Vec<(&str, &[u8])> = request
                .headers()
                .iter()
                .filter(|(n, _)| n.as_str() != "authorization")
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            headers.push(("host", authority.as_bytes()));
            let amz_date = request.headers()["x-amz-date"].to_str().unwrap();
            let signer = Signer {
                access_key_id: &keys.access_key_id,
                secret_access_key: &keys.secret_access_key,
                region: "us-east-1",
                service,
                uri_encoding: encoding,
            };
            let hash = hex_lower(digest::digest(&digest::SHA256, body).as_ref());
            for cache in [None, Some(&cache), Some(&cache)] {
                let ours = authorization(
                    &signer, "POST", path, query, &headers, &hash, amz_date, cache,
                )
                .unwrap();
                assert_eq!(ours, theirs, "{service} {url}");
            }
            assert_eq!(amz_date, amz_date_of(time));
        }
    }

    fn amz_date_of(t: std::time::SystemTime) -> String {
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        amz_date(i64::try_from(secs).unwrap()).unwrap()
    }
}
