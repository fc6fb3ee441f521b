//! Addressing: the bucket and the key a request names, from its Host and path, as S3 reads
//! them (path-style `/bucket/key` on the endpoint, virtual-hosted-style `/key` on
//! `bucket.endpoint`).

use crate::error::S3Error;

/// S3's limit on an object key: 1024 bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest raw path read (a 1024-byte key percent-encodes to at most 3072 characters).
pub(crate) const MAX_PATH: usize = 4096;

/// How a request names its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `Host: endpoint`, `/bucket/key`.
    PathStyle,
    /// `Host: bucket.endpoint`, `/key`.
    VirtualHosted,
}

/// An endpoint host name the configuration gave that is not a plain host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S3 endpoint host `{0}`: expected a lowercase DNS name or IP address without port")]
pub struct EndpointError(pub String);

/// The gateway's own S3 endpoint host names (`s3.example.com`, `localhost`, `127.0.0.1`,
/// `[::1]`): a request's Host is one of them (path-style) or `bucket.` one of them
/// (virtual-hosted-style); any other Host is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    hosts: Vec<String>,
}

impl Endpoints {
    /// Validates the host names: lowercase letters, digits, `-` and `.` (labels of 1–63,
    /// 253 in all), or an IPv4 address, or a bracketed IPv6 address; no port, no trailing
    /// dot. At least one.
    pub fn new<I, S>(hosts: I) -> Result<Endpoints, EndpointError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for h in hosts {
            let h = h.as_ref();
            if !valid_endpoint(h) {
                return Err(EndpointError(h.to_owned()));
            }
            if !out.iter().any(|o: &String| o == h) {
                out.push(h.to_owned());
            }
        }
        if out.is_empty() {
            return Err(EndpointError(String::new()));
        }
        Ok(Endpoints { hosts: out })
    }

    /// The host names, as given.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

fn valid_endpoint(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    if h.is_empty() || h.len() > 253 {
        return false;
    }
    h.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    })
}

/// Where a request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) style: Addressing,
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
}

/// The host part of a Host header: a `:port` of decimal digits removed.
fn strip_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        return match rest.strip_prefix(':') {
            None if rest.is_empty() => Some(name),
            Some(p) if valid_port(p) => Some(name),
            _ => None,
        };
    }
    match host.split_once(':') {
        None => Some(host),
        Some((name, p)) if valid_port(p) => Some(name),
        Some(_) => None,
    }
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn unknown_host(host: &str) -> S3Error {
    S3Error::invalid_request(format!(
        "The Host `{host}` is neither this endpoint nor a bucket of it"
    ))
}

/// Resolves the Host against the endpoints: `None` for path-style, `Some(bucket)` for
/// virtual-hosted-style. The endpoint part is compared without regard to ASCII case (DNS);
/// the bucket label is taken as sent and must be a valid bucket name. A Host that matches
/// in more than one way (endpoints `example.com` and `s3.example.com`, Host
/// `s3.example.com`) is refused: which one the upstream would pick is not known.
fn resolve_host(host: &str, endpoints: &Endpoints) -> Result<Option<String>, S3Error> {
    if !host.is_ascii() {
        return Err(unknown_host(host));
    }
    let name = strip_port(host).ok_or_else(|| unknown_host(host))?;
    let mut found: Option<Option<&str>> = None;
    for e in endpoints.hosts() {
        let this = if name.eq_ignore_ascii_case(e) {
            Some(None)
        } else if let Some((bucket, suffix)) = name
            .len()
            .checked_sub(e.len())
            .and_then(|at| name.split_at_checked(at))
        {
            match (bucket.strip_suffix('.'), suffix.eq_ignore_ascii_case(e)) {
                (Some(b), true) if !b.is_empty() => Some(Some(b)),
                (Some(_), true) => return Err(S3Error::invalid_bucket_name()),
                _ => None,
            }
        } else {
            None
        };
        if let Some(t) = this {
            match found {
                Some(prev) if prev != t => {
                    return Err(S3Error::invalid_request(format!(
                        "The Host `{host}` names this endpoint in more than one way"
                    )));
                }
                _ => found = Some(t),
            }
        }
    }
    match found {
        None => Err(unknown_host(host)),
        Some(None) => Ok(None),
        Some(Some(b)) => {
            check_bucket_name(b)?;
            Ok(Some(b.to_owned()))
        }
    }
}

/// Reads the bucket and key from the Host and the raw path as S3 does: the path is not
/// normalised (`.`/`..` segments and `//` are part of the key), `%XX` is decoded (`%2F`
/// is a `/` of the key), `+` is a literal plus. Path-style: the first segment is the
/// bucket, taken as sent (a `%` in it makes it invalid); the key is the decoded rest after
/// `/bucket/`. Virtual-hosted-style: the whole path after the first `/` is the key.
pub(crate) fn resolve(path: &str, host: &str, endpoints: &Endpoints) -> Result<Target, S3Error> {
    if path.len() > MAX_PATH {
        return Err(S3Error::key_too_long());
    }
    let rest = path.strip_prefix('/').ok_or_else(S3Error::invalid_uri)?;
    if !path.bytes().all(is_path_char) {
        return Err(S3Error::invalid_uri());
    }
    match resolve_host(host, endpoints)? {
        Some(bucket) => Ok(Target {
            style: Addressing::VirtualHosted,
            bucket: Some(bucket),
            key: object_key(rest)?,
        }),
        None => {
            if rest.is_empty() {
                return Ok(Target {
                    style: Addressing::PathStyle,
                    bucket: None,
                    key: None,
                });
            }
            let (bucket, key) = match rest.split_once('/') {
                Some((b, k)) => (b, object_key(k)?),
                None => (rest, None),
            };
            check_bucket_name(bucket)?;
            Ok(Target {
                style: Addressing::PathStyle,
                bucket: Some(bucket.to_owned()),
                key,
            })
        }
    }
}

/// RFC 3986 `pchar`, `/` and `%`: what a client sends in a path (everything else
/// percent-encoded). A raw `#`, space, backslash, non-ASCII byte or control in the path could be
/// read differently by the next server, so it is refused (`InvalidURI`).
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// The decoded key of a raw path remainder; empty is no key.
fn object_key(raw: &str) -> Result<Option<String>, S3Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = percent_decode(raw).ok_or_else(S3Error::invalid_uri)?;
    let key = String::from_utf8(bytes).map_err(|_| S3Error::invalid_uri())?;
    check_key(&key)?;
    Ok(Some(key))
}

/// Checks a decoded key: not empty, at most [`MAX_KEY_BYTES`], and none of the segments
/// the gateway refuses though S3 accepts them. S3 keeps `a/../b`, `./a` and `a//b` as
/// they are, but the S3-compatible servers behind a gateway (those storing objects as
/// files, e.g. versitygw's posix backend) resolve them as paths, so the key authorized would not be the key executed: a key with
/// a `.` or `..` segment, an empty segment (`//`, a leading `/`) or a backslash is refused.
/// A trailing `/` (a "folder" object) is kept.
pub(crate) fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::invalid_argument(
            "A key must have a length greater than 0",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::key_too_long());
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    let bad_segment = body
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
        || key.contains('\\');
    if bad_segment {
        return Err(S3Error::invalid_argument(format!(
            "The object key `{key}` has a `.`, `..` or empty path segment or a backslash, which this gateway refuses"
        )));
    }
    Ok(())
}

/// `%XX` decoded (either hex case); `None` for a `%` not followed by two hex digits.
pub(crate) fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// S3's rules for general purpose bucket names: 3–63 characters of lowercase letters,
/// digits, `.` and `-`; starting and ending with a letter or digit; no `..`; not an IPv4
/// address; not the reserved prefixes `xn--`, `sthree-`, `amzn-s3-demo-` nor the reserved
/// suffixes `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`. (Legacy us-east-1
/// names with capitals or `_` are refused.) `InvalidBucketName` otherwise.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let b = name.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && !is_ipv4(name)
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s));
    if ok {
        Ok(())
    } else {
        Err(S3Error::invalid_bucket_name())
    }
}

fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps() -> Endpoints {
        Endpoints::new(["s3.local", "localhost"]).unwrap()
    }

    #[test]
    fn path_style() {
        let t = resolve("/bkt/a%2Fb+c", "s3.local:9000", &eps()).unwrap();
        assert_eq!(t.style, Addressing::PathStyle);
        assert_eq!(t.bucket.as_deref(), Some("bkt"));
        assert_eq!(t.key.as_deref(), Some("a/b+c"));
        let t = resolve("/bkt/", "localhost", &eps()).unwrap();
        assert_eq!((t.bucket.as_deref(), t.key), (Some("bkt"), None));
        let t = resolve("/", "localhost", &eps()).unwrap();
        assert_eq!((t.bucket, t.key), (None, None));
    }

    #[test]
    fn virtual_hosted() {
        let t = resolve("/bkt/x", "my.bkt.S3.LOCAL", &eps()).unwrap();
        assert_eq!(t.style, Addressing::VirtualHosted);
        assert_eq!(t.bucket.as_deref(), Some("my.bkt"));
        assert_eq!(t.key.as_deref(), Some("bkt/x"));
        assert!(resolve("/", "My.s3.local", &eps()).is_err());
        assert!(resolve("/", "other.example", &eps()).is_err());
        assert!(resolve("/", "s3.local.", &eps()).is_err());
        assert!(resolve("/", "\u{feff}ab.s3.local", &eps()).is_err());
        assert!(resolve("/", "xy\u{feff}s3.local", &eps()).is_err());
        assert!(resolve("/", ".s3.local", &eps()).is_err());
    }

    #[test]
    fn ambiguous_hosts() {
        let e = Endpoints::new(["example.com", "s3.example.com"]).unwrap();
        assert_eq!(
            resolve("/", "s3.example.com", &e).unwrap_err().code,
            "InvalidRequest"
        );
        let t = resolve("/", "bkt.s3.example.com", &e);
        assert!(t.is_err(), "{t:?}");
    }

    #[test]
    fn keys() {
        assert!(check_key("a/b/").is_ok());
        assert!(check_key("a/../b").is_err());
        assert!(check_key("./a").is_err());
        assert!(check_key("a//b").is_err());
        assert!(check_key("/a").is_err());
        assert!(check_key("/").is_err());
        assert!(check_key("a\\b").is_err());
        assert!(check_key("a..b/.c").is_ok());
        assert_eq!(
            check_key(&"k".repeat(1025)).unwrap_err().code,
            "KeyTooLongError"
        );
        assert!(check_key(&"k".repeat(1024)).is_ok());
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "a.b-c", "my-bucket-1", "1.2.3.a"] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--ab",
            "ab-s3alias",
            "a%62c",
            "",
            &"a".repeat(64),
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raw_path_characters() {
        for bad in [
            "/bkt/a#b",
            "/bkt/a b",
            "/bkt/a\\b",
            "/bkt/\u{e9}",
            "/bkt/a\"b",
        ] {
            assert_eq!(
                resolve(bad, "s3.local", &eps()).unwrap_err().code,
                "InvalidURI",
                "{bad}"
            );
        }
        let t = resolve("/bkt/a!$&'()*,;=:@b", "s3.local", &eps()).unwrap();
        assert_eq!(t.key.as_deref(), Some("a!$&'()*,;=:@b"));
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("%2f%2F+").unwrap(), b"//+");
        assert!(percent_decode("%2").is_none());
        assert!(percent_decode("%zz").is_none());
    }

    #[test]
    fn endpoints_are_plain_hosts() {
        assert!(Endpoints::new(["S3.local"]).is_err());
        assert!(Endpoints::new(["s3.local:9000"]).is_err());
        assert!(Endpoints::new(["s3.local."]).is_err());
        assert!(Endpoints::new(Vec::<String>::new()).is_err());
        assert!(Endpoints::new(["[::1]", "127.0.0.1"]).is_ok());
    }
}
