//! AWS Query request decoding: form body or query string, dispatch on `Action`, and the
//! model's constraints checked with AWS's `ValidationError` wording.

use crate::error::{Shown, StsError, ValidationFailure};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The only API version of STS.
pub(crate) const VERSION: &str = "2011-06-15";

const ARN_PATTERN: &str =
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
const SESSION_NAME_PATTERN: &str = r"[\w+=,.@-]*";
const POLICY_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
/// At most this many `PolicyArns`.
pub(crate) const MAX_POLICY_ARNS: usize = 10;

/// The decoded parameters of a request, body first, then the query string. Names and
/// values without escapes borrow from the text they were decoded from.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may hold a web identity token.
        f.debug_list()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

impl<'a> Params<'a> {
    /// Decodes `application/x-www-form-urlencoded` text from the body and the query string.
    /// For a name present in both, the body wins (first occurrence wins overall).
    pub fn parse(query: Option<&'a str>, body: &'a [u8]) -> Self {
        // A request has a handful of parameters: one allocation for the list, none for
        // names and values that need no decoding.
        let mut pairs = Vec::with_capacity(8);
        parse_form(&mut pairs, body);
        if let Some(q) = query {
            parse_form(&mut pairs, q.as_bytes());
        }
        Params { pairs }
    }
}

/// `application/x-www-form-urlencoded` decoding with exactly the results of
/// `form_urlencoded::parse`, but splitting with `memchr` and borrowing every name and value
/// that has no `+` or `%` and is UTF-8 (a token is a kilobyte scanned once, not five times).
fn parse_form<'a>(pairs: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>, mut input: &'a [u8]) {
    while !input.is_empty() {
        let sequence = match memchr::memchr(b'&', input) {
            Some(i) => {
                let (s, rest) = input.split_at(i);
                input = rest.get(1..).unwrap_or_default();
                s
            }
            None => std::mem::take(&mut input),
        };
        if sequence.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', sequence) {
            Some(i) => {
                let (n, rest) = sequence.split_at(i);
                (n, rest.get(1..).unwrap_or_default())
            }
            None => (sequence, &[][..]),
        };
        pairs.push((form_decode(name), form_decode(value)));
    }
}

/// One name or value: `+` is a space, then percent-decoding, then UTF-8 (invalid
/// sequences replaced), as `form_urlencoded` decodes.
fn form_decode(input: &[u8]) -> Cow<'_, str> {
    if memchr::memchr2(b'+', b'%', input).is_none()
        && let Ok(s) = std::str::from_utf8(input)
    {
        return Cow::Borrowed(s);
    }
    let mut plus = input.to_vec();
    for b in &mut plus {
        if *b == b'+' {
            *b = b' ';
        }
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    match String::from_utf8(decoded) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

impl Params<'static> {
    /// From explicit pairs (tests, other front ends).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Params {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into()), Cow::Owned(v.into())))
                .collect(),
        }
    }
}

impl Params<'_> {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The `Action` parameter, if any.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }
}

/// A string that never shows in `Debug` output (tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: handle with care.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// A decoded request, one variant per supported action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `AssumeRoleWithWebIdentity`, constraints checked.
    AssumeRoleWithWebIdentity(AssumeRoleWithWebIdentityRequest),
    /// `GetCallerIdentity` (no parameters; must be SigV4-signed).
    GetCallerIdentity,
}

/// The parameters of `AssumeRoleWithWebIdentity` after the model's constraints held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleWithWebIdentityRequest {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `WebIdentityToken`.
    pub web_identity_token: Secret,
    /// `DurationSeconds` (900..=43200); `None` means the default of 3600.
    pub duration_seconds: Option<u32>,
    /// `Policy`: a session policy, not yet parsed.
    pub policy: Option<String>,
    /// `PolicyArns.member.N.arn`, in N order.
    pub policy_arns: Vec<String>,
}

/// Decodes and validates a request. Unknown actions give `InvalidAction`.
pub fn decode(params: &Params<'_>) -> Result<Request, StsError> {
    let Some(action) = params.action() else {
        return Err(StsError::MissingAction);
    };
    if let Some(v) = params.get("Version")
        && v != VERSION
    {
        return Err(StsError::InvalidAction {
            action: action.to_owned(),
            version: v.to_owned(),
        });
    }
    match action {
        "AssumeRoleWithWebIdentity" => {
            decode_assume_role_with_web_identity(params).map(Request::AssumeRoleWithWebIdentity)
        }
        "GetCallerIdentity" => Ok(Request::GetCallerIdentity),
        other => Err(StsError::InvalidAction {
            action: other.to_owned(),
            version: VERSION.to_owned(),
        }),
    }
}

/// A pattern's text (as AWS prints it) and its matcher.
type Pattern = (&'static str, fn(&str) -> bool);

struct Checker {
    failures: Vec<ValidationFailure>,
}

impl Checker {
    fn fail(&mut self, member: &str, value: Shown, constraint: String) {
        self.failures.push(ValidationFailure {
            member: member.to_owned(),
            value,
            constraint,
        });
    }

    /// Length and pattern checks in Coral's order: min, max, pattern (all that fail).
    fn string(
        &mut self,
        member: &str,
        value: Option<&str>,
        required: bool,
        (min, max): (usize, usize),
        pattern: Option<Pattern>,
        sensitive: bool,
    ) {
        let Some(v) = value else {
            if required {
                self.fail(member, Shown::Null, "Member must not be null".into());
            }
            return;
        };
        let shown = || {
            if sensitive {
                Shown::Hidden
            } else {
                Shown::Value(v.to_owned())
            }
        };
        // Lengths count UTF-16 code units; ASCII text (tokens, ARNs) has one per byte.
        let len = if v.is_ascii() {
            v.len()
        } else {
            v.chars().map(char::len_utf16).sum::<usize>()
        };
        if len < min {
            self.fail(
                member,
                shown(),
                format!("Member must have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.fail(
                member,
                shown(),
                format!("Member must have length less than or equal to {max}"),
            );
        }
        if let Some((text, matches)) = pattern
            && !matches(v)
        {
            self.fail(
                member,
                shown(),
                format!("Member must satisfy regular expression pattern: {text}"),
            );
        }
    }
}

impl Checker {
    /// `DurationSeconds`: 900..=43200 (a failure to report), or not an integer (refused
    /// at once, as AWS does).
    fn duration_seconds(&mut self, d: &str) -> Result<Option<u32>, StsError> {
        match d.trim().parse::<i64>() {
            Ok(n) if n < 900 => self.fail(
                "durationSeconds",
                Shown::Value(d.to_owned()),
                "Member must have value greater than or equal to 900".into(),
            ),
            Ok(n) if n > 43200 => self.fail(
                "durationSeconds",
                Shown::Value(d.to_owned()),
                "Member must have value less than or equal to 43200".into(),
            ),
            Ok(n) => return Ok(u32::try_from(n).ok()),
            Err(_) => {
                return Err(StsError::Validation(format!(
                    "Value '{d}' for parameter DurationSeconds is invalid. Must be an integer."
                )));
            }
        }
        Ok(None)
    }
}

fn arn_chars(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        })
}

fn session_name_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'))
}

fn policy_chars(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FF}'))
}

/// `PolicyArns.member.N.arn` values in N order; a bare `PolicyArns=` is an empty list.
fn policy_arns(params: &Params<'_>) -> Vec<(u32, String)> {
    let mut by_index: BTreeMap<u32, String> = BTreeMap::new();
    for (k, v) in &params.pairs {
        let Some(rest) = k.strip_prefix("PolicyArns.member.") else {
            continue;
        };
        let Some(n) = rest.strip_suffix(".arn") else {
            continue;
        };
        if let Ok(n) = n.parse::<u32>()
            && n >= 1
        {
            by_index.entry(n).or_insert_with(|| v.clone().into_owned());
        }
    }
    by_index.into_iter().collect()
}

/// The model's constraints on every member of `AssumeRoleWithWebIdentity` (all failures
/// reported together, as AWS does), and `DurationSeconds` read.
fn check_members(params: &Params<'_>, arns: &[(u32, String)]) -> Result<Option<u32>, StsError> {
    let mut c = Checker {
        failures: Vec::new(),
    };
    c.string(
        "roleArn",
        params.get("RoleArn"),
        true,
        (20, 2048),
        Some((ARN_PATTERN, arn_chars)),
        false,
    );
    c.string(
        "roleSessionName",
        params.get("RoleSessionName"),
        true,
        (2, 64),
        Some((SESSION_NAME_PATTERN, session_name_chars)),
        false,
    );
    let token = params.get("WebIdentityToken");
    c.string("webIdentityToken", token, true, (4, 20000), None, true);
    let provider_id = params.get("ProviderId");
    c.string("providerId", provider_id, false, (4, 2048), None, false);
    for (i, (_, arn)) in arns.iter().enumerate() {
        let member = format!("policyArns.{}.member.arn", i + 1);
        c.string(
            &member,
            Some(arn),
            true,
            (20, 2048),
            Some((ARN_PATTERN, arn_chars)),
            false,
        );
    }
    c.string(
        "policy",
        params.get("Policy"),
        false,
        (1, 2048),
        Some((POLICY_PATTERN, policy_chars)),
        false,
    );
    let duration_seconds = match params.get("DurationSeconds") {
        Some(d) => c.duration_seconds(d)?,
        None => None,
    };
    if !c.failures.is_empty() {
        return Err(StsError::validation(&c.failures));
    }
    Ok(duration_seconds)
}

fn decode_assume_role_with_web_identity(
    params: &Params<'_>,
) -> Result<AssumeRoleWithWebIdentityRequest, StsError> {
    let role_arn = params.get("RoleArn");
    let session = params.get("RoleSessionName");
    let token = params.get("WebIdentityToken");
    let provider_id = params.get("ProviderId");
    let policy = params.get("Policy");
    let arns = policy_arns(params);
    let duration_seconds = check_members(params, &arns)?;
    if arns.len() > MAX_POLICY_ARNS {
        return Err(StsError::Validation(format!(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )));
    }
    if provider_id.is_some() {
        // Only the OAuth 2.0 providers (www.amazon.com, graph.facebook.com) use ProviderId;
        // this server speaks OpenID Connect only.
        return Err(StsError::InvalidParameterValue(
            "ProviderId must not be specified for OpenID Connect ID tokens".into(),
        ));
    }
    let (Some(role_arn), Some(session), Some(token)) = (role_arn, session, token) else {
        // Unreachable: the checker reported each missing member above.
        return Err(StsError::MissingAction);
    };
    Ok(AssumeRoleWithWebIdentityRequest {
        role_arn: role_arn.to_owned(),
        role_session_name: session.to_owned(),
        web_identity_token: Secret::new(token),
        duration_seconds,
        policy: policy.map(str::to_owned),
        policy_arns: arns.into_iter().map(|(_, a)| a).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/allow-read";

    fn base() -> Vec<(&'static str, String)> {
        vec![
            ("Action", "AssumeRoleWithWebIdentity".into()),
            ("Version", "2011-06-15".into()),
            ("RoleArn", ROLE.into()),
            ("RoleSessionName", "s1".into()),
            ("WebIdentityToken", "aaaa.bbbb.cccc".into()),
        ]
    }

    fn with(extra: &[(&'static str, &str)]) -> Params<'static> {
        let mut p = base();
        for (k, v) in extra {
            p.retain(|(kk, _)| kk != k);
            p.push((k, (*v).to_owned()));
        }
        Params::from_pairs(p)
    }

    fn err(p: &Params<'_>) -> StsError {
        decode(p).unwrap_err()
    }

    #[test]
    fn form_decoding_as_form_urlencoded() {
        let cases: &[&[u8]] = &[
            b"",
            b"&",
            b"&&a=1&&",
            b"a",
            b"a=",
            b"=b",
            b"a=b=c==",
            b"a+b=c+d%20e",
            b"%41%4=%zz%",
            b"k=%E2%82%AC&l=%FF%FE&m=\xff",
            b"x=caf\xc3\xa9&y=1+2%2B3",
            b"Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&WebIdentityToken=aa.bb-cc_dd",
        ];
        let mut all: Vec<&[u8]> = cases.to_vec();
        let invalid = [b'a', b'=', 0xff, b'&', 0xc3, b'=', b'+'];
        all.push(&invalid);
        for input in all {
            let mut ours = Vec::new();
            parse_form(&mut ours, input);
            let theirs: Vec<_> = form_urlencoded::parse(input).collect();
            assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(input));
        }
        let mut borrowed = Vec::new();
        parse_form(&mut borrowed, b"WebIdentityToken=aa.bb-cc_dd");
        assert!(matches!(borrowed[0].1, Cow::Borrowed("aa.bb-cc_dd")));
    }

    #[test]
    fn body_and_query_string() {
        let body = b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fallow-read&RoleSessionName=s1&WebIdentityToken=a.b.c&PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FB&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FA&DurationSeconds=900";
        let from_body = decode(&Params::parse(None, body)).unwrap();
        let q = std::str::from_utf8(body).unwrap();
        let from_query = decode(&Params::parse(Some(q), b"")).unwrap();
        assert_eq!(from_body, from_query);
        let Request::AssumeRoleWithWebIdentity(r) = from_body else {
            panic!("wrong action")
        };
        assert_eq!(r.role_arn, ROLE);
        assert_eq!(r.web_identity_token.expose(), "a.b.c");
        assert_eq!(r.duration_seconds, Some(900));
        assert_eq!(
            r.policy_arns,
            vec!["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"]
        );
        assert!(
            !format!("{r:?}").contains("a.b.c"),
            "token leaked into Debug"
        );
    }

    #[test]
    fn bare_policy_arns_is_empty_list() {
        let p = with(&[("PolicyArns", "")]);
        let Request::AssumeRoleWithWebIdentity(r) = decode(&p).unwrap() else {
            panic!()
        };
        assert!(r.policy_arns.is_empty());
    }

    #[test]
    fn actions() {
        assert_eq!(
            decode(&Params::parse(
                None,
                b"Action=GetCallerIdentity&Version=2011-06-15"
            ))
            .unwrap(),
            Request::GetCallerIdentity
        );
        let e = err(&Params::parse(
            None,
            b"Action=AssumeRole&Version=2011-06-15",
        ));
        assert_eq!(e.code(), "InvalidAction");
        assert_eq!(
            e.message(),
            "Could not find operation AssumeRole for version 2011-06-15"
        );
        let e = err(&Params::parse(
            None,
            b"Action=GetCallerIdentity&Version=2010-01-01",
        ));
        assert_eq!(e.code(), "InvalidAction");
        assert_eq!(
            err(&Params::parse(None, b"Version=2011-06-15")).code(),
            "MissingAction"
        );
    }

    #[test]
    fn session_name_pattern_and_length() {
        let e = err(&with(&[("RoleSessionName", "a:b")]));
        assert_eq!(e.code(), "ValidationError");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.message(),
            r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        let long = "x".repeat(65);
        assert_eq!(
            err(&with(&[("RoleSessionName", &long)])).message(),
            format!(
                "1 validation error detected: Value '{long}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"
            )
        );
        assert!(decode(&with(&[("RoleSessionName", "a_b+c=d,e.f@g-h")])).is_ok());
    }

    #[test]
    fn several_errors_listed_together() {
        let e = err(&with(&[
            ("RoleSessionName", "a"),
            ("DurationSeconds", "100"),
        ]));
        assert_eq!(
            e.message(),
            "2 validation errors detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '100' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
    }

    #[test]
    fn missing_required_and_sensitive_token() {
        let p = Params::from_pairs([
            ("Action", "AssumeRoleWithWebIdentity"),
            ("WebIdentityToken", "ab"),
        ]);
        assert_eq!(
            err(&p).message(),
            "3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null; Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
    }

    #[test]
    fn bounds() {
        assert_eq!(
            err(&with(&[("RoleArn", "arn:aws:iam::1:r")])).code(),
            "ValidationError"
        );
        assert!(
            err(&with(&[("DurationSeconds", "43201")]))
                .message()
                .ends_with("Member must have value less than or equal to 43200")
        );
        assert!(decode(&with(&[("DurationSeconds", "43200")])).is_ok());
        assert_eq!(
            err(&with(&[("DurationSeconds", "soon")])).code(),
            "ValidationError"
        );
        let big = "x".repeat(2049);
        assert!(
            err(&with(&[("Policy", &big)]))
                .message()
                .ends_with("Member must have length less than or equal to 2048")
        );
        let token = "x".repeat(20001);
        let e = err(&with(&[("WebIdentityToken", &token)]));
        assert!(!e.message().contains("xxxx"), "token echoed");
    }

    #[test]
    fn at_most_ten_policy_arns() {
        let arns: Vec<(String, String)> = (1..=11)
            .map(|i| {
                (
                    format!("PolicyArns.member.{i}.arn"),
                    format!("arn:aws:iam::aws:policy/P{i}"),
                )
            })
            .collect();
        let mut pairs: Vec<(String, String)> =
            base().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        pairs.extend(arns.iter().take(10).cloned());
        assert!(decode(&Params::from_pairs(pairs.clone())).is_ok());
        pairs.extend(arns.iter().skip(10).cloned());
        assert_eq!(
            decode(&Params::from_pairs(pairs)).unwrap_err().code(),
            "ValidationError"
        );
    }

    #[test]
    fn short_policy_arn_names_its_member() {
        let e = err(&with(&[("PolicyArns.member.1.arn", "arn:x")]));
        assert!(
            e.message().contains("at 'policyArns.1.member.arn'"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn debug_of_params_hides_values() {
        let p = with(&[]);
        assert!(!format!("{p:?}").contains("aaaa.bbbb"));
    }
}
