//! XML response encoders for the AWS Query protocol (namespace
//! `https://sts.amazonaws.com/doc/2011-06-15/`), element names as in botocore's STS model.

use crate::error::StsError;
use std::fmt::Write as _;

/// The STS XML namespace.
pub(crate) const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for an XML element. Characters XML 1.0 cannot carry become U+FFFD.
#[cfg(test)]
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// Whether `b` starts a character [`escape_into`] rewrites (all of them start with one of
/// these bytes: `&<>"'`, C0 controls but tab and newline, and U+FFFE/U+FFFF whose UTF-8
/// starts with 0xEF).
const fn needs_escape(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | 0xEF) || (b < 0x20 && b != b'\t' && b != b'\n')
}

/// [`needs_escape`] as a table: one load per byte of the (mostly base64) text scanned.
#[allow(clippy::indexing_slicing)] // i < 256 = the table's length
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = needs_escape(i as u8);
        i += 1;
    }
    t
};

/// [`escape`] appending to `out`; text without a character to rewrite (tokens, ARNs, key
/// ids) is copied in one piece.
fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| NEEDS_ESCAPE.get(usize::from(b)).copied().unwrap_or(true))
    {
        let (clean, tail) = rest.split_at(i);
        out.push_str(clean);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { return };
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

use crate::credentials::Credentials;

/// `AssumedRoleUser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRoleUser {
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    pub arn: String,
    /// `AROA…:SESSION`
    pub assumed_role_id: String,
}

/// The result of `AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleWithWebIdentityResult {
    /// Temporary credentials.
    pub credentials: Credentials,
    /// The token's `sub`.
    pub subject_from_web_identity_token: String,
    /// The assumed role session.
    pub assumed_role_user: AssumedRoleUser,
    /// Percentage of the allowed size the session policies take, when any were passed.
    pub packed_policy_size: Option<u32>,
    /// The IAM OIDC provider ARN.
    pub provider: String,
    /// The audience that matched one of the provider's client ids.
    pub audience: String,
    /// `SourceIdentity`, from the token's `https://aws.amazon.com/source_identity` claim.
    pub source_identity: Option<String>,
}

/// The result of `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetCallerIdentityResult {
    /// `AROA…:SESSION`
    pub user_id: String,
    /// The 12-digit account.
    pub account: String,
    /// The assumed-role ARN.
    pub arn: String,
}

/// ISO 8601 UTC date-time without fractional seconds, e.g. `2014-10-24T23:00:23Z`.
pub fn iso8601(epoch_seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // One allocation of the final size (`format!` would grow its buffer).
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out
}

/// The start of a response document up to its result's first element, in a buffer of
/// `capacity` bytes more; [`close`] ends it.
fn open(action: &str, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity + 2 * action.len() + 320);
    let _ = write!(
        out,
        "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n"
    );
    out
}

/// The end of a response document [`open`] started.
fn close(out: &mut String, action: &str, request_id: &str) {
    let _ = write!(out, "  </{action}Result>\n  <ResponseMetadata>\n    ");
    element(out, "RequestId", request_id);
    let _ = write!(out, "\n  </ResponseMetadata>\n</{action}Response>\n");
}

/// The body of a successful `AssumeRoleWithWebIdentity`, in the order real STS sends.
pub fn assume_role_with_web_identity_response(
    r: &AssumeRoleWithWebIdentityResult,
    request_id: &str,
) -> String {
    const ACTION: &str = "AssumeRoleWithWebIdentity";
    // Element names, indentation and the expiration: under 640 bytes.
    let capacity = 640
        + r.audience.len()
        + r.assumed_role_user.assumed_role_id.len()
        + r.assumed_role_user.arn.len()
        + r.provider.len()
        + r.credentials.access_key_id.len()
        + r.credentials.secret_access_key.len()
        + r.credentials.session_token.len()
        + r.subject_from_web_identity_token.len()
        + r.source_identity.as_ref().map_or(0, String::len)
        + request_id.len();
    let mut b = open(ACTION, capacity);
    b.push_str("    ");
    element(&mut b, "Audience", &r.audience);
    b.push_str("\n    <AssumedRoleUser>\n      ");
    element(
        &mut b,
        "AssumedRoleId",
        &r.assumed_role_user.assumed_role_id,
    );
    b.push_str("\n      ");
    element(&mut b, "Arn", &r.assumed_role_user.arn);
    b.push_str("\n    </AssumedRoleUser>\n    ");
    element(&mut b, "Provider", &r.provider);
    b.push_str("\n    <Credentials>\n      ");
    element(&mut b, "AccessKeyId", &r.credentials.access_key_id);
    b.push_str("\n      ");
    element(&mut b, "SecretAccessKey", &r.credentials.secret_access_key);
    b.push_str("\n      ");
    element(&mut b, "SessionToken", &r.credentials.session_token);
    b.push_str("\n      ");
    element(&mut b, "Expiration", &iso8601(r.credentials.expiration));
    b.push_str("\n    </Credentials>\n    ");
    element(
        &mut b,
        "SubjectFromWebIdentityToken",
        &r.subject_from_web_identity_token,
    );
    b.push('\n');
    if let Some(p) = r.packed_policy_size {
        b.push_str("    ");
        element(&mut b, "PackedPolicySize", &p.to_string());
        b.push('\n');
    }
    if let Some(s) = &r.source_identity {
        b.push_str("    ");
        element(&mut b, "SourceIdentity", s);
        b.push('\n');
    }
    close(&mut b, ACTION, request_id);
    b
}

/// The body of a successful `GetCallerIdentity`.
pub fn get_caller_identity_response(r: &GetCallerIdentityResult, request_id: &str) -> String {
    const ACTION: &str = "GetCallerIdentity";
    let capacity = 128 + r.arn.len() + r.user_id.len() + r.account.len() + request_id.len();
    let mut b = open(ACTION, capacity);
    b.push_str("    ");
    element(&mut b, "Arn", &r.arn);
    b.push_str("\n    ");
    element(&mut b, "UserId", &r.user_id);
    b.push_str("\n    ");
    element(&mut b, "Account", &r.account);
    b.push('\n');
    close(&mut b, ACTION, request_id);
    b
}

/// `<ErrorResponse>` for an error; `RequestId` sits beside `<Error>`.
pub(crate) fn error_response(e: &StsError, request_id: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    "
    );
    element(&mut out, "Type", e.fault().as_str());
    out.push_str("\n    ");
    element(&mut out, "Code", e.code());
    out.push_str("\n    ");
    element(&mut out, "Message", &e.message());
    out.push_str("\n  </Error>\n  ");
    element(&mut out, "RequestId", request_id);
    out.push_str("\n</ErrorResponse>\n");
    out
}

/// The wire form of an error: status, body. Headers: `Content-Type: text/xml` and
/// `x-amzn-RequestId`.
pub fn encode_error(e: &StsError, request_id: &str) -> (u16, String) {
    (e.status(), error_response(e, request_id))
}

/// A request id in the UUID v4 shape real STS uses, built from 16 bytes of `rng`.
pub fn request_id(rng: &mut impl rand::RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y"), "x\u{FFFD}y");
        assert_eq!(escape("a\rb\tc\nd"), "a&#xD;b\tc\nd");
        assert_eq!(
            escape("\u{FFFE}\u{FFFF}\u{FFFD}\u{EFFF}é"),
            "\u{FFFD}\u{FFFD}\u{FFFD}\u{EFFF}é"
        );
        assert_eq!(
            escape("IQoJb3JpZ2luX2VjEOr//+/="),
            "IQoJb3JpZ2luX2VjEOr//+/="
        );
        // The same as escaping one character at a time, for every character class.
        let sample: String = (0u32..0x300)
            .chain([0xEFFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F600])
            .filter_map(char::from_u32)
            .collect();
        let slow: String = sample
            .chars()
            .map(|c| match c {
                '&' => "&amp;".to_owned(),
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '"' => "&quot;".to_owned(),
                '\'' => "&apos;".to_owned(),
                '\r' => "&#xD;".to_owned(),
                '\t' | '\n' => c.to_string(),
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                    "\u{FFFD}".to_owned()
                }
                c => c.to_string(),
            })
            .collect();
        assert_eq!(escape(&sample), slow);
    }

    #[test]
    fn expiration_format() {
        assert_eq!(iso8601(1414191623), "2014-10-24T23:00:23Z");
    }

    #[test]
    fn error_shape() {
        let xml = error_response(
            &StsError::InvalidIdentityToken("Incorrect token audience".into()),
            "rid-1",
        );
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n    <Message>Incorrect token audience</Message>\n  </Error>\n  <RequestId>rid-1</RequestId>\n</ErrorResponse>\n"
        );
    }

    #[test]
    fn success_shape() {
        let r = AssumeRoleWithWebIdentityResult {
            credentials: Credentials {
                access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
                secret_access_key: "s".repeat(40),
                session_token: "tok&".into(),
                expiration: 1414191623,
            },
            subject_from_web_identity_token: "system:serviceaccount:ns:sa".into(),
            assumed_role_user: AssumedRoleUser {
                arn: "arn:aws:sts::111122223333:assumed-role/r/s".into(),
                assumed_role_id: "AROAAAAAAAAAAAAAAAAAA:s".into(),
            },
            packed_policy_size: Some(7),
            provider: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test".into(),
            audience: "sts.amazonaws.com".into(),
            source_identity: None,
        };
        let xml = assume_role_with_web_identity_response(&r, "rid");
        assert!(xml.starts_with("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <AssumeRoleWithWebIdentityResult>\n    <Audience>sts.amazonaws.com</Audience>"));
        assert!(xml.contains("<SessionToken>tok&amp;</SessionToken>"));
        assert!(xml.contains("<Expiration>2014-10-24T23:00:23Z</Expiration>"));
        assert!(xml.contains("<PackedPolicySize>7</PackedPolicySize>"));
        assert!(xml.contains("<ResponseMetadata>\n    <RequestId>rid</RequestId>"));
        assert!(!format!("{r:?}").contains("tok&"), "session token in Debug");
    }

    #[test]
    fn request_ids_are_uuid_v4() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = request_id(&mut rng);
        let b = request_id(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
