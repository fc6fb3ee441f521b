//! Configuration sources, parsed purely: ServiceAccount annotations, the
//! `pod-identity-webhook` ConfigMap and the container-credentials (EKS Pod Identity) file.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::settings::{Settings, clamp_token_expiration};
use crate::{
    AUDIENCE_ANNOTATION, REGION_ANNOTATION, ROLE_ARN_ANNOTATION, ROLE_SESSION_NAME_ANNOTATION,
    STS_REGIONAL_ENDPOINTS_ANNOTATION, TOKEN_EXPIRATION_ANNOTATION,
};

/// Errors from parsing the ConfigMap mapping or the container-credentials file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not valid JSON.
    #[error("invalid {what}: {message}")]
    Json {
        /// `config map data.config` or `container credentials config`.
        what: &'static str,
        /// The JSON parser's message.
        message: String,
    },
    /// The document or a member has the wrong JSON type.
    #[error("invalid {what}: `{location}` must be {expected}")]
    Type {
        /// `config map data.config` or `container credentials config`.
        what: &'static str,
        /// Where: a key, `key.Field`, `identities[3].namespace`, ...
        location: String,
        /// `an object`, `a string`, `a boolean`, `an integer`, `an array`.
        expected: &'static str,
    },
    /// A ConfigMap key is not `namespace/name` (the reference panics on these).
    #[error(
        "invalid config map data.config: key `{0}` is not of the form `namespace/serviceaccount`"
    )]
    InvalidKey(String),
}

/// Go `strconv.ParseBool`: `1 t T TRUE true True` are true, `0 f F FALSE false False`
/// are false, anything else is `None`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go `strconv.ParseInt(s, 10, 64)`: optional sign, ASCII digits, fits in i64.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether a role ARN matches the reference's sanity regex
/// `^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]+$`. The reference only logs a
/// warning when it does not; so should the server.
pub fn role_arn_looks_valid(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition_tail, rest)) = rest.split_once(':') else {
        return false;
    };
    if !partition_tail
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return false;
    }
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(name) = rest.strip_prefix("role/") else {
        return false;
    };
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.@+=,".contains(&b))
}

/// One ServiceAccount's settings, from its `<prefix>/…` annotations (the reference's
/// SA-cache entry). Every ServiceAccount gets one, annotated or not: container
/// credentials mode reads `use_regional_sts`/`token_expiration` of any cached SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountConfig {
    /// `<prefix>/role-arn`; `None` when absent or empty (no IRSA mutation). Composed
    /// into a full ARN with [`Settings::compose_role_arn`] when it has no `arn:`.
    pub role_arn: Option<String>,
    /// `<prefix>/audience`, else `--token-audience`.
    pub audience: String,
    /// `<prefix>/sts-regional-endpoints` (Go ParseBool), else (absent or invalid)
    /// `--sts-regional-endpoint`.
    pub use_regional_sts: bool,
    /// `<prefix>/token-expiration` raised to at least 600, else (absent or invalid)
    /// `--token-expiration`.
    pub token_expiration: i64,
    /// `<prefix>/region`: `Some("")` turns the region injection off for this
    /// ServiceAccount, `Some(region)` replaces `--aws-default-region`; `None` (absent or
    /// not a region name, see [`region_looks_valid`]) means the flag.
    pub region: Option<String>,
    /// `<prefix>/role-session-name` as written (checked when the pod is mutated; the
    /// pod's own annotation wins).
    pub role_session_name: Option<String>,
}

impl ServiceAccountConfig {
    /// Builds the entry from a ServiceAccount's annotations (all of them or only those
    /// under the prefix; other keys are ignored).
    pub fn from_annotations(annotations: &BTreeMap<String, String>, settings: &Settings) -> Self {
        let get = |name: &str| annotations.get(&settings.annotation(name));
        let role_arn = get(ROLE_ARN_ANNOTATION)
            .filter(|arn| !arn.is_empty())
            .map(|arn| match &settings.compose_role_arn {
                Some(c) if !arn.contains("arn:") => {
                    format!("arn:{}:iam::{}:role/{}", c.partition, c.account_id, arn)
                }
                _ => arn.clone(),
            });
        let audience = get(AUDIENCE_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| settings.token_audience.clone());
        let use_regional_sts = get(STS_REGIONAL_ENDPOINTS_ANNOTATION)
            .and_then(|v| parse_go_bool(v))
            .unwrap_or(settings.sts_regional_endpoint);
        let token_expiration = get(TOKEN_EXPIRATION_ANNOTATION)
            .and_then(|v| parse_go_int(v))
            .map(clamp_token_expiration)
            .unwrap_or_else(|| settings.effective_token_expiration());
        let region = get(REGION_ANNOTATION)
            .filter(|r| r.is_empty() || region_looks_valid(r))
            .cloned();
        let role_session_name = get(ROLE_SESSION_NAME_ANNOTATION).cloned();
        Self {
            role_arn,
            audience,
            use_regional_sts,
            token_expiration,
            region,
            role_session_name,
        }
    }
}

/// Whether `region` has the shape of an AWS region name: 1 to 64 characters of ASCII
/// lowercase letters, digits and `-`, starting with a letter and not ending with `-`
/// (`us-east-1`, `cn-north-1`, `us-gov-west-1`, `eusc-de-east-1`).
pub fn region_looks_valid(region: &str) -> bool {
    let b = region.as_bytes();
    (1..=64).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last() != Some(&b'-')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// One entry of the `pod-identity-webhook` ConfigMap's `data.config`, as written
/// (`TokenExpiration` 0 means `--token-expiration`, applied when resolving).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigMapEntry {
    /// `RoleARN`; empty means no mutation.
    pub role_arn: String,
    /// `Audience`; empty is kept (the token then gets the API server's audience), as in
    /// the reference.
    pub audience: String,
    /// `UseRegionalSTS`; defaults to false, not to the flag.
    pub use_regional_sts: bool,
    /// `TokenExpiration`; 0 means the flag. Not clamped (as in the reference).
    pub token_expiration: i64,
}

/// The `pod-identity-webhook` ConfigMap mapping: `"namespace/serviceaccount"` → entry.
/// A namespace of exactly `*` matches any namespace (checked after the exact key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigMapConfig {
    entries: BTreeMap<(String, String), ConfigMapEntry>,
}

const CM_WHAT: &str = "config map data.config";
const CC_WHAT: &str = "container credentials config";

/// Go's encoding/json matches struct fields case-insensitively; the last matching
/// member wins.
fn go_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .next_back()
        .filter(|v| !v.is_null())
}

fn type_err(what: &'static str, location: String, expected: &'static str) -> ConfigError {
    ConfigError::Type {
        what,
        location,
        expected,
    }
}

fn go_string(
    obj: &Map<String, Value>,
    name: &str,
    what: &'static str,
    at: &str,
) -> Result<String, ConfigError> {
    match go_field(obj, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(type_err(what, format!("{at}.{name}"), "a string")),
    }
}

impl ConfigMapConfig {
    /// Parses `data.config`: a JSON object `"ns/sa"` → `{"RoleARN", "Audience",
    /// "UseRegionalSTS", "TokenExpiration"}` (member names case-insensitive, unknown
    /// members ignored). `null` is an empty mapping; empty text is an error, as in the
    /// reference. An entry that is malformed (a key without exactly one `/`, a value that
    /// is not an object, a member of the wrong type) is skipped and the rest kept; see
    /// [`ConfigMapConfig::parse_with_warnings`] for what was skipped.
    pub fn parse(data_config: &str) -> Result<Self, ConfigError> {
        Self::parse_with_warnings(data_config).map(|(config, _)| config)
    }

    /// [`ConfigMapConfig::parse`], also returning one error per skipped entry (in key
    /// order), for the server to log. Only a document that is not JSON or not an object
    /// is an error: the reference panics on a key without `/` and restarts, losing every
    /// mapping, where one bad entry should cost only itself.
    pub fn parse_with_warnings(data_config: &str) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        let doc: Value = serde_json::from_str(data_config).map_err(|e| ConfigError::Json {
            what: CM_WHAT,
            message: e.to_string(),
        })?;
        let map = match doc {
            Value::Null => return Ok((Self::default(), Vec::new())),
            Value::Object(map) => map,
            _ => return Err(type_err(CM_WHAT, "data.config".into(), "an object")),
        };
        let mut entries = BTreeMap::new();
        let mut skipped = Vec::new();
        for (key, value) in &map {
            match Self::entry(key, value) {
                Ok((namespace, name, entry)) => {
                    entries.insert((namespace.to_string(), name.to_string()), entry);
                }
                Err(e) => skipped.push(e),
            }
        }
        Ok((Self { entries }, skipped))
    }

    fn entry<'k>(
        key: &'k str,
        value: &Value,
    ) -> Result<(&'k str, &'k str, ConfigMapEntry), ConfigError> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Err(ConfigError::InvalidKey(key.to_string()));
        };
        if name.contains('/') {
            return Err(ConfigError::InvalidKey(key.to_string()));
        }
        let Value::Object(obj) = value else {
            return Err(type_err(CM_WHAT, key.to_string(), "an object"));
        };
        let use_regional_sts = match go_field(obj, "UseRegionalSTS") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(type_err(
                    CM_WHAT,
                    format!("{key}.UseRegionalSTS"),
                    "a boolean",
                ));
            }
        };
        let token_expiration = match go_field(obj, "TokenExpiration") {
            None => 0,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| type_err(CM_WHAT, format!("{key}.TokenExpiration"), "an integer"))?,
        };
        let entry = ConfigMapEntry {
            role_arn: go_string(obj, "RoleARN", CM_WHAT, key)?,
            audience: go_string(obj, "Audience", CM_WHAT, key)?,
            use_regional_sts,
            token_expiration,
        };
        Ok((namespace, name, entry))
    }

    /// The entry for exactly `namespace/name` (no wildcard).
    pub fn get(&self, namespace: &str, name: &str) -> Option<&ConfigMapEntry> {
        self.entries.get(&(namespace.to_string(), name.to_string()))
    }

    /// The entry for `namespace/name`, else for `*/name`.
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<&ConfigMapEntry> {
        self.get(namespace, name).or_else(|| self.get("*", name))
    }

    /// Entries as `((namespace, name), entry)`, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&(String, String), &ConfigMapEntry)> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One `(namespace, serviceAccount)` pair of the container-credentials file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// Namespace (exact match, no wildcard).
    pub namespace: String,
    /// ServiceAccount name (exact match).
    pub service_account: String,
}

/// The container-credentials (EKS Pod Identity) file given by
/// `--watch-container-credentials-config`:
/// `{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerCredentialsConfig {
    /// namespace → ServiceAccount names: a lookup borrows, never allocates.
    identities: BTreeMap<String, BTreeSet<String>>,
    len: usize,
}

impl ContainerCredentialsConfig {
    /// Parses the file's content. Empty (or whitespace-only) text and `null` give an
    /// empty config, as a missing or empty file does in the reference; malformed JSON
    /// is an error (the server keeps the previous config). Member names are
    /// case-insensitive, unknown members ignored.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        let doc: Value = serde_json::from_str(json).map_err(|e| ConfigError::Json {
            what: CC_WHAT,
            message: e.to_string(),
        })?;
        let obj = match &doc {
            Value::Null => return Ok(Self::default()),
            Value::Object(obj) => obj,
            _ => return Err(type_err(CC_WHAT, "(document)".into(), "an object")),
        };
        let list = match go_field(obj, "identities") {
            None => return Ok(Self::default()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(type_err(CC_WHAT, "identities".into(), "an array")),
        };
        let mut identities = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let at = format!("identities[{i}]");
            let obj = match item {
                Value::Null => continue,
                Value::Object(obj) => obj,
                _ => return Err(type_err(CC_WHAT, at, "an object")),
            };
            identities.push(Identity {
                namespace: go_string(obj, "namespace", CC_WHAT, &at)?,
                service_account: go_string(obj, "serviceAccount", CC_WHAT, &at)?,
            });
        }
        Ok(Self::from_identities(identities))
    }

    /// Builds a config from pairs (for tests and programmatic use).
    pub fn from_identities(identities: impl IntoIterator<Item = Identity>) -> Self {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut len = 0;
        for i in identities {
            if map
                .entry(i.namespace)
                .or_default()
                .insert(i.service_account)
            {
                len += 1;
            }
        }
        Self {
            identities: map,
            len,
        }
    }

    /// Whether `namespace/service_account` is listed (exact match).
    pub fn contains(&self, namespace: &str, service_account: &str) -> bool {
        self.identities
            .get(namespace)
            .is_some_and(|names| names.contains(service_account))
    }

    /// The listed identities, sorted.
    pub fn identities(&self) -> impl Iterator<Item = Identity> + '_ {
        self.identities.iter().flat_map(|(namespace, names)| {
            names.iter().map(move |name| Identity {
                namespace: namespace.clone(),
                service_account: name.clone(),
            })
        })
    }

    /// Number of identities.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no identity is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn go_bool_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", " true", "2", "on"] {
            assert_eq!(parse_go_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_int() {
        assert_eq!(parse_go_int("3600"), Some(3600));
        assert_eq!(parse_go_int("+3600"), Some(3600));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int("1_000"), None);
        assert_eq!(parse_go_int(" 1"), None);
        assert_eq!(parse_go_int("3600s"), None);
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("+"), None);
        assert_eq!(parse_go_int("99999999999999999999"), None);
    }

    #[test]
    fn arn_regex() {
        assert!(role_arn_looks_valid(
            "arn:aws:iam::111122223333:role/s3-reader"
        ));
        assert!(role_arn_looks_valid(
            "arn:aws-cn:iam::111122223333:role/path/to/r_o.l@e+=,"
        ));
        assert!(!role_arn_looks_valid("arn:aws:iam::11112222333:role/x"));
        assert!(!role_arn_looks_valid("arn:aws:iam::111122223333:user/x"));
        assert!(!role_arn_looks_valid("arn:aws:iam::111122223333:role/"));
        assert!(!role_arn_looks_valid("arn:aws:iam::111122223333:role/a b"));
        assert!(!role_arn_looks_valid("arn:AWS:iam::111122223333:role/x"));
        assert!(!role_arn_looks_valid("s3-reader"));
    }

    #[test]
    fn sa_defaults_from_settings() {
        let s = Settings {
            sts_regional_endpoint: true,
            token_expiration: 7200,
            token_audience: "aud".into(),
            ..Settings::default()
        };
        let c = ServiceAccountConfig::from_annotations(&BTreeMap::new(), &s);
        assert_eq!(
            c,
            ServiceAccountConfig {
                role_arn: None,
                audience: "aud".into(),
                use_regional_sts: true,
                token_expiration: 7200,
                region: None,
                role_session_name: None,
            }
        );
    }

    #[test]
    fn sa_annotations_parsed() {
        let s = Settings::default();
        let c = ServiceAccountConfig::from_annotations(
            &ann(&[
                (
                    "eks.amazonaws.com/role-arn",
                    "arn:aws:iam::111122223333:role/r",
                ),
                ("eks.amazonaws.com/audience", "other"),
                ("eks.amazonaws.com/sts-regional-endpoints", "T"),
                ("eks.amazonaws.com/token-expiration", "100"),
                ("other.example/role-arn", "ignored"),
            ]),
            &s,
        );
        assert_eq!(
            c.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/r")
        );
        assert_eq!(c.audience, "other");
        assert!(c.use_regional_sts);
        assert_eq!(c.token_expiration, 600);
    }

    #[test]
    fn sa_region_and_session_name() {
        let s = Settings::default();
        let c = |pairs: &[(&str, &str)]| ServiceAccountConfig::from_annotations(&ann(pairs), &s);
        assert_eq!(
            c(&[("eks.amazonaws.com/region", "us-gov-west-1")])
                .region
                .as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            c(&[("eks.amazonaws.com/region", "")]).region.as_deref(),
            Some("")
        );
        for bad in ["US-EAST-1", "us east 1", "-us", "us-", "us_east_1", "1us"] {
            assert_eq!(
                c(&[("eks.amazonaws.com/region", bad)]).region,
                None,
                "{bad}"
            );
        }
        assert_eq!(c(&[]).region, None);
        assert_eq!(
            c(&[("eks.amazonaws.com/role-session-name", "pod-name")])
                .role_session_name
                .as_deref(),
            Some("pod-name")
        );
        assert!(region_looks_valid("eusc-de-east-1"));
        assert!(!region_looks_valid(""));
        assert!(!region_looks_valid(&"a".repeat(65)));
    }

    #[test]
    fn sa_invalid_values_fall_back_to_flags() {
        let s = Settings {
            sts_regional_endpoint: true,
            token_expiration: 5000,
            ..Settings::default()
        };
        let c = ServiceAccountConfig::from_annotations(
            &ann(&[
                ("eks.amazonaws.com/role-arn", ""),
                ("eks.amazonaws.com/sts-regional-endpoints", "yes"),
                ("eks.amazonaws.com/token-expiration", "1h"),
            ]),
            &s,
        );
        assert_eq!(c.role_arn, None);
        assert!(c.use_regional_sts);
        assert_eq!(c.token_expiration, 5000);
    }

    #[test]
    fn sa_custom_prefix_and_compose() {
        let s = Settings {
            annotation_prefix: "example.com".into(),
            compose_role_arn: Some(crate::ComposeRoleArn {
                partition: "aws-cn".into(),
                account_id: "111122223333".into(),
            }),
            ..Settings::default()
        };
        let c = ServiceAccountConfig::from_annotations(
            &ann(&[
                ("example.com/role-arn", "reader"),
                ("eks.amazonaws.com/audience", "x"),
            ]),
            &s,
        );
        assert_eq!(
            c.role_arn.as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/reader")
        );
        assert_eq!(c.audience, "sts.amazonaws.com");
        let full = ServiceAccountConfig::from_annotations(
            &ann(&[("example.com/role-arn", "arn:aws:iam::444455556666:role/r")]),
            &s,
        );
        assert_eq!(
            full.role_arn.as_deref(),
            Some("arn:aws:iam::444455556666:role/r")
        );
    }

    #[test]
    fn config_map_parse() {
        let cm = ConfigMapConfig::parse(
            r#"{"ns/sa":{"RoleARN":"arn:aws:iam::111122223333:role/a","Audience":"aud","UseRegionalSTS":true,"TokenExpiration":3600},
                "*/any":{"rolearn":"arn:aws:iam::111122223333:role/b","extra":1},
                "ns/nulls":{"RoleARN":null,"TokenExpiration":null}}"#,
        )
        .unwrap();
        assert_eq!(cm.len(), 3);
        let a = cm.get("ns", "sa").unwrap();
        assert_eq!(a.audience, "aud");
        assert!(a.use_regional_sts);
        assert_eq!(a.token_expiration, 3600);
        let b = cm.lookup("whatever", "any").unwrap();
        assert_eq!(b.role_arn, "arn:aws:iam::111122223333:role/b");
        assert_eq!(b.audience, "");
        assert!(!b.use_regional_sts);
        assert_eq!(b.token_expiration, 0);
        assert!(cm.get("whatever", "any").is_none());
        assert_eq!(cm.get("ns", "nulls").unwrap(), &ConfigMapEntry::default());
        assert!(cm.lookup("ns", "missing").is_none());
    }

    #[test]
    fn config_map_exact_beats_wildcard() {
        let cm =
            ConfigMapConfig::parse(r#"{"*/sa":{"RoleARN":"w"},"ns/sa":{"RoleARN":"e"}}"#).unwrap();
        assert_eq!(cm.lookup("ns", "sa").unwrap().role_arn, "e");
        assert_eq!(cm.lookup("other", "sa").unwrap().role_arn, "w");
        // `test-*` is not a wildcard.
        let cm = ConfigMapConfig::parse(r#"{"test-*/sa":{"RoleARN":"w"}}"#).unwrap();
        assert!(cm.lookup("test-a", "sa").is_none());
    }

    #[test]
    fn config_map_errors() {
        assert!(matches!(
            ConfigMapConfig::parse(""),
            Err(ConfigError::Json { .. })
        ));
        assert!(matches!(
            ConfigMapConfig::parse("{"),
            Err(ConfigError::Json { .. })
        ));
        assert_eq!(ConfigMapConfig::parse("null").unwrap().len(), 0);
        assert!(matches!(
            ConfigMapConfig::parse("[]"),
            Err(ConfigError::Type { .. })
        ));
        assert!(matches!(
            ConfigMapConfig::parse(r#""a/b""#),
            Err(ConfigError::Type { .. })
        ));
    }

    #[test]
    fn config_map_bad_entries_are_skipped() {
        let good = r#""ns/ok":{"RoleARN":"arn:aws:iam::111122223333:role/ok"}"#;
        let cases = [
            (r#""nosep":{}"#, "key `nosep` is not of the form"),
            (r#""a/b/c":{}"#, "key `a/b/c` is not of the form"),
            (r#""":{}"#, "key `` is not of the form"),
            (r#""a/b":null"#, "`a/b` must be an object"),
            (r#""a/b":"arn""#, "`a/b` must be an object"),
            (
                r#""a/b":{"TokenExpiration":"3600"}"#,
                "`a/b.TokenExpiration` must be an integer",
            ),
            (
                r#""a/b":{"TokenExpiration":3600.5}"#,
                "`a/b.TokenExpiration` must be an integer",
            ),
            (
                r#""a/b":{"UseRegionalSTS":"true"}"#,
                "`a/b.UseRegionalSTS` must be a boolean",
            ),
            (r#""a/b":{"RoleARN":1}"#, "`a/b.RoleARN` must be a string"),
            (
                r#""a/b":{"audience":[]}"#,
                "`a/b.Audience` must be a string",
            ),
        ];
        for (bad, message) in cases {
            for doc in [format!("{{{bad},{good}}}"), format!("{{{good},{bad}}}")] {
                let (cm, skipped) = ConfigMapConfig::parse_with_warnings(&doc).unwrap();
                assert_eq!(cm.len(), 1, "{doc}");
                assert_eq!(
                    cm.get("ns", "ok").unwrap().role_arn,
                    "arn:aws:iam::111122223333:role/ok"
                );
                assert_eq!(skipped.len(), 1, "{doc}");
                let text = skipped[0].to_string();
                assert!(text.contains(message), "{doc}: {text}");
                assert_eq!(ConfigMapConfig::parse(&doc).unwrap(), cm);
            }
        }
        let (cm, skipped) =
            ConfigMapConfig::parse_with_warnings(r#"{"x":{},"y/z/w":1,"q":null}"#).unwrap();
        assert!(cm.is_empty());
        assert_eq!(skipped.len(), 3);
        // A wildcard entry survives a bad sibling.
        let cm = ConfigMapConfig::parse(r#"{"bad":{},"*/any":{"RoleARN":"r"}}"#).unwrap();
        assert_eq!(cm.lookup("ns", "any").unwrap().role_arn, "r");
    }

    #[test]
    fn container_credentials_parse() {
        let cc = ContainerCredentialsConfig::parse(
            r#"{"identities":[{"namespace":"ns","serviceAccount":"sa"},{"Namespace":"n2","serviceaccount":"s2","x":1},null]}"#,
        )
        .unwrap();
        assert_eq!(cc.len(), 2);
        assert!(cc.contains("ns", "sa"));
        assert!(cc.contains("n2", "s2"));
        assert!(!cc.contains("ns", "s2"));
        assert!(!cc.contains("*", "sa"));
        assert!(ContainerCredentialsConfig::parse("").unwrap().is_empty());
        assert!(ContainerCredentialsConfig::parse(" \n").unwrap().is_empty());
        assert!(ContainerCredentialsConfig::parse("{}").unwrap().is_empty());
        assert!(
            ContainerCredentialsConfig::parse("null")
                .unwrap()
                .is_empty()
        );
        assert!(ContainerCredentialsConfig::parse("{").is_err());
        assert!(ContainerCredentialsConfig::parse(r#"{"identities":{}}"#).is_err());
        assert!(ContainerCredentialsConfig::parse(r#"{"identities":[{"namespace":1}]}"#).is_err());
    }
}
