//! The STS configuration: YAML parsed purely from a string, then validated into domain types.
//! Errors name the field (`roles[1].maxSessionDuration: …`).

use crate::policy::{self, PolicyKind, ValidPolicy};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML, or a key of the wrong type, missing or unknown (serde names the path).
    #[error("invalid configuration: {0}")]
    Syntax(String),
    /// A value that breaks a rule.
    #[error("{field}: {reason}")]
    Field {
        /// The field's path, e.g. `roles[0].trustPolicy`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads YAML (JSON is YAML too) the way every irsa configuration is read: YAML 1.2
/// booleans only (`yes`, `on` stay strings), a key given twice in one mapping refused.
/// The error names the path of the offending value (`providers[0]: unknown field …`) and
/// its line and column.
pub fn from_yaml_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    let mut path = None;
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| {
        // The parser's hint is for programs embedding it, not for whoever edits the file.
        let message = e
            .to_string()
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
        match path.as_deref().map(|p| p.trim_end_matches(".?")) {
            Some(p) if p != "." && p != "?" => format!("{p}: {message}"),
            _ => message,
        }
    })
}

fn field_err(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    account: String,
    #[serde(default)]
    partition: Option<String>,
    region: String,
    #[serde(default)]
    providers: Vec<RawProvider>,
    #[serde(default)]
    roles: Vec<RawRole>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
    #[serde(default)]
    signing_keys: Vec<RawSigningKey>,
    #[serde(default)]
    clusters: Vec<crate::pod_identity::RawCluster>,
    #[serde(default)]
    pod_identity_associations: Vec<crate::pod_identity::RawAssociation>,
    /// The `irsa gateway` section (its upstream). One file drives both servers; STS
    /// accepts the section and leaves it to the gateway, which validates it.
    #[serde(default, rename = "gateway")]
    _gateway: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProvider {
    issuer: String,
    audiences: Vec<String>,
    #[serde(default)]
    jwks_file: Option<PathBuf>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRole {
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    max_session_duration: Option<i64>,
    trust_policy: serde_json::Value,
    #[serde(default)]
    policies: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    managed_policies: Vec<String>,
    /// Optional: the role's unique id (`AROA` + 17), e.g. to mirror a real account.
    #[serde(default)]
    role_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: String,
    #[serde(default)]
    path: Option<String>,
    document: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSigningKey {
    file: PathBuf,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The 12-digit account id.
    pub account: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The region this endpoint serves (also the default SigV4 region).
    pub region: String,
    /// IAM OIDC identity providers, keyed by exact issuer URL.
    pub providers: Vec<Provider>,
    /// Roles keyed by ARN.
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies keyed by ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
    /// Master key files, first = active. Paths as written (relative to the config file).
    pub signing_keys: Vec<PathBuf>,
    /// Clusters whose pods get credentials through `AssumeRoleForPodIdentity`.
    pub clusters: Vec<crate::pod_identity::Cluster>,
    /// Pod identity associations (cluster, namespace, ServiceAccount → role).
    pub pod_identity_associations: Vec<crate::pod_identity::Association>,
}

/// An IAM OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The issuer URL; must equal the token's `iss` exactly.
    pub issuer: String,
    /// `arn:PARTITION:iam::ACCOUNT:oidc-provider/<issuer without https://>`
    pub arn: String,
    /// The condition-key prefix: the issuer without `https://` (e.g. `oidc.example.test/id/ABC`).
    pub key_prefix: String,
    /// Client ids (accepted audiences).
    pub audiences: Vec<String>,
    /// Keys from this file instead of discovery.
    pub jwks_file: Option<PathBuf>,
    /// CA bundle for the issuer's TLS.
    pub ca_file: Option<PathBuf>,
}

/// An IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// The role's path (`/` by default).
    pub path: String,
    /// `arn:PARTITION:iam::ACCOUNT:role<path><name>`
    pub arn: String,
    /// `AROA` + 17 characters, stable per role.
    pub role_id: String,
    /// 3600..=43200.
    pub max_session_duration: u32,
    /// Who may assume the role.
    pub trust_policy: ValidPolicy,
    /// Inline permission policies by name.
    pub policies: BTreeMap<String, ValidPolicy>,
    /// ARNs of attached managed policies (each present in [`Config::policies`]).
    pub managed_policies: Vec<String>,
}

/// A customer managed policy.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// The policy's name.
    pub name: String,
    /// `arn:PARTITION:iam::ACCOUNT:policy<path><name>`
    pub arn: String,
    /// The document.
    pub document: ValidPolicy,
}

const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Options of [`Config::from_yaml_with`]. `Default`: the safe choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept `http://` provider issuers (`irsa sts --insecure-allow-http-issuer`, local
    /// issuers only). Off by default: issuers must be `https://`.
    pub allow_insecure_http_issuer: bool,
}

impl Config {
    /// Parses and validates YAML (JSON is YAML too) with the default [`ParseOptions`]
    /// (`https://` issuers only).
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml_with(text, &ParseOptions::default())
    }

    /// Parses and validates YAML with `options`.
    pub fn from_yaml_with(text: &str, options: &ParseOptions) -> Result<Config, ConfigError> {
        let raw: RawConfig = from_yaml_str(text).map_err(ConfigError::Syntax)?;
        validate(raw, options)
    }

    /// The provider registered for `iss` (exact match).
    pub fn provider(&self, iss: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.issuer == iss)
    }

    /// The role with this ARN.
    pub fn role(&self, arn: &str) -> Option<&Role> {
        self.roles.get(arn)
    }

    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION` (the role path dropped).
    pub fn assumed_role_arn(&self, role_name: &str, session: &str) -> String {
        format!(
            "arn:{}:sts::{}:assumed-role/{role_name}/{session}",
            self.partition, self.account
        )
    }
}

fn check_path(field: &str, path: Option<String>) -> Result<String, ConfigError> {
    let path = path.unwrap_or_else(|| "/".to_owned());
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('\u{21}'..='\u{7E}').contains(&c));
    if ok {
        Ok(path)
    } else {
        Err(field_err(
            field,
            format!(
                "`{path}` must begin and end with `/` and hold only printable ascii (at most 512 characters)"
            ),
        ))
    }
}

fn check_name(field: &str, name: &str, max: usize) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(field_err(
            field,
            format!("`{name}` must be 1 to {max} characters of letters, digits and _+=,.@-"),
        ))
    }
}

/// A policy document given as YAML/JSON structure or as JSON text.
fn document_text(field: &str, v: &serde_json::Value) -> Result<String, ConfigError> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Object(_) => Ok(v.to_string()),
        _ => Err(field_err(
            field,
            "must be a policy document (a mapping or a JSON string)",
        )),
    }
}

fn parse_doc(
    field: &str,
    v: &serde_json::Value,
    kind: PolicyKind,
) -> Result<ValidPolicy, ConfigError> {
    let text = document_text(field, v)?;
    policy::parse(&text, kind).map_err(|e| field_err(field, e.to_string()))
}

/// A stable `AROA` + 17 id derived from the role's ARN.
pub(crate) fn derived_role_id(arn: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, arn.as_bytes());
    let mut id = String::from("AROA");
    // 17 characters of 5 bits each = 85 bits from the digest.
    let mut acc: u128 = 0;
    for b in digest.as_ref().iter().take(11) {
        acc = (acc << 8) | u128::from(*b);
    }
    for i in 0..17 {
        let idx = ((acc >> (i * 5)) & 31) as usize;
        id.push(char::from(*ALPHABET.get(idx).unwrap_or(&b'A')));
    }
    id
}

fn validate(raw: RawConfig, options: &ParseOptions) -> Result<Config, ConfigError> {
    let partition = validate_scope(&raw)?;
    let account = raw.account;
    let scope = (partition.as_str(), account.as_str());

    let mut providers = Vec::new();
    let mut seen = HashSet::new();
    for (i, p) in raw.providers.into_iter().enumerate() {
        providers.push(validate_provider(i, p, scope, options, &mut seen)?);
    }

    let mut policies = BTreeMap::new();
    for (i, p) in raw.policies.into_iter().enumerate() {
        let policy = validate_policy(i, p, scope, &policies)?;
        policies.insert(policy.arn.clone(), policy);
    }

    let mut roles = BTreeMap::new();
    let mut names = HashSet::new();
    for (i, r) in raw.roles.into_iter().enumerate() {
        let role = validate_role(i, r, scope, &policies, &mut names)?;
        roles.insert(role.arn.clone(), role);
    }

    let (clusters, pod_identity_associations) = crate::pod_identity::validate(
        raw.clusters,
        raw.pod_identity_associations,
        (partition.as_str(), account.as_str(), raw.region.as_str()),
        &roles,
        options.allow_insecure_http_issuer,
    )?;
    Ok(Config {
        account,
        partition,
        region: raw.region,
        providers,
        roles,
        policies,
        signing_keys: raw.signing_keys.into_iter().map(|k| k.file).collect(),
        clusters,
        pod_identity_associations,
    })
}

/// `account`, `partition` (default `aws`) and `region`.
fn validate_scope(raw: &RawConfig) -> Result<String, ConfigError> {
    if raw.account.len() != 12 || !raw.account.chars().all(|c| c.is_ascii_digit()) {
        return Err(field_err(
            "account",
            format!("`{}` must be 12 digits", raw.account),
        ));
    }
    let partition = raw.partition.clone().unwrap_or_else(|| "aws".to_owned());
    if !PARTITIONS.contains(&partition.as_str()) {
        return Err(field_err(
            "partition",
            format!("`{partition}` is not a partition (aws, aws-cn, aws-us-gov, …)"),
        ));
    }
    if raw.region.is_empty()
        || !raw
            .region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(field_err(
            "region",
            format!("`{}` is not a region name", raw.region),
        ));
    }
    Ok(partition)
}

/// `providers[i]`: an issuer URL registered once, with its client ids.
fn validate_provider(
    i: usize,
    p: RawProvider,
    scope: (&str, &str),
    options: &ParseOptions,
    seen: &mut HashSet<String>,
) -> Result<Provider, ConfigError> {
    let (partition, account) = scope;
    let f = format!("providers[{i}]");
    let rest = match (
        p.issuer.strip_prefix("https://"),
        p.issuer.strip_prefix("http://"),
    ) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if options.allow_insecure_http_issuer => rest,
        (None, Some(_)) => {
            return Err(field_err(
                format!("{f}.issuer"),
                format!(
                    "`{}` must start with https:// (plain http needs --insecure-allow-http-issuer)",
                    p.issuer
                ),
            ));
        }
        (None, None) => {
            return Err(field_err(
                format!("{f}.issuer"),
                format!("`{}` must start with https://", p.issuer),
            ));
        }
    };
    if rest.is_empty()
        || p.issuer.len() > 255
        || rest.contains(['?', '#', ' '])
        || rest.starts_with('/')
    {
        return Err(field_err(
            format!("{f}.issuer"),
            format!(
                "`{}` is not an issuer url (host and optional path, no query, at most 255 characters)",
                p.issuer
            ),
        ));
    }
    if !seen.insert(p.issuer.clone()) {
        return Err(field_err(
            format!("{f}.issuer"),
            format!("`{}` is registered twice", p.issuer),
        ));
    }
    if p.audiences.is_empty() || p.audiences.len() > 100 {
        return Err(field_err(
            format!("{f}.audiences"),
            "must list 1 to 100 client ids",
        ));
    }
    for (j, a) in p.audiences.iter().enumerate() {
        if a.is_empty() || a.len() > 255 {
            return Err(field_err(
                format!("{f}.audiences[{j}]"),
                "must be 1 to 255 characters",
            ));
        }
    }
    Ok(Provider {
        arn: format!("arn:{partition}:iam::{account}:oidc-provider/{rest}"),
        key_prefix: rest.to_owned(),
        issuer: p.issuer,
        audiences: p.audiences,
        jwks_file: p.jwks_file,
        ca_file: p.ca_file,
    })
}

/// `policies[i]`: a managed policy, named once.
fn validate_policy(
    i: usize,
    p: RawPolicy,
    scope: (&str, &str),
    policies: &BTreeMap<String, ManagedPolicy>,
) -> Result<ManagedPolicy, ConfigError> {
    let (partition, account) = scope;
    let f = format!("policies[{i}]");
    check_name(&format!("{f}.name"), &p.name, 128)?;
    let path = check_path(&format!("{f}.path"), p.path)?;
    let arn = format!("arn:{partition}:iam::{account}:policy{path}{}", p.name);
    let document = parse_doc(&format!("{f}.document"), &p.document, PolicyKind::Identity)?;
    if policies.contains_key(&arn) {
        return Err(field_err(
            format!("{f}.name"),
            format!("`{arn}` is defined twice"),
        ));
    }
    Ok(ManagedPolicy {
        name: p.name,
        arn,
        document,
    })
}

/// `roles[i]`: a role named once (case-insensitively), its trust policy, inline policies
/// and the configured managed policies it attaches.
fn validate_role(
    i: usize,
    r: RawRole,
    scope: (&str, &str),
    policies: &BTreeMap<String, ManagedPolicy>,
    names: &mut HashSet<String>,
) -> Result<Role, ConfigError> {
    let (partition, account) = scope;
    let f = format!("roles[{i}]");
    check_name(&format!("{f}.name"), &r.name, 64)?;
    if !names.insert(r.name.to_ascii_lowercase()) {
        return Err(field_err(
            format!("{f}.name"),
            format!(
                "`{}` is defined twice (role names are case-insensitive)",
                r.name
            ),
        ));
    }
    let path = check_path(&format!("{f}.path"), r.path)?;
    let max = r.max_session_duration.unwrap_or(3600);
    if !(3600..=43200).contains(&max) {
        return Err(field_err(
            format!("{f}.maxSessionDuration"),
            format!("{max} is not between 3600 and 43200"),
        ));
    }
    let arn = format!("arn:{partition}:iam::{account}:role{path}{}", r.name);
    let trust_policy = parse_doc(
        &format!("{f}.trustPolicy"),
        &r.trust_policy,
        PolicyKind::Trust,
    )?;
    let mut inline = BTreeMap::new();
    for (name, doc) in &r.policies {
        let pf = format!("{f}.policies.{name}");
        check_name(&pf, name, 128)?;
        inline.insert(name.clone(), parse_doc(&pf, doc, PolicyKind::Identity)?);
    }
    for (j, m) in r.managed_policies.iter().enumerate() {
        if !policies.contains_key(m) {
            return Err(field_err(
                format!("{f}.managedPolicies[{j}]"),
                format!("`{m}` is not one of the configured policies"),
            ));
        }
    }
    let role_id = match r.role_id {
        Some(id) => {
            let ok = id.len() == 21
                && id.starts_with("AROA")
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !ok {
                return Err(field_err(
                    format!("{f}.roleId"),
                    format!("`{id}` must be AROA followed by 17 upper-case letters or digits"),
                ));
            }
            id
        }
        None => derived_role_id(&arn),
    };
    Ok(Role {
        name: r.name,
        path,
        arn,
        role_id,
        max_session_duration: u32::try_from(max).unwrap_or(3600),
        trust_policy,
        policies: inline,
        managed_policies: r.managed_policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"
account: "111122223333"
region: us-east-1
providers:
  - issuer: https://oidc.example.test/id/ABC
    audiences: [sts.amazonaws.com]
    jwksFile: keys.json
roles:
  - name: allow-read
    path: /team/
    maxSessionDuration: 7200
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals:
              oidc.example.test/id/ABC:sub: system:serviceaccount:default:reader
    policies:
      read: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
    managedPolicies: [arn:aws:iam::111122223333:policy/x]
policies:
  - name: x
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "dynamodb:GetItem", Resource: "*"}]}
signingKeys:
  - file: master.key
"#;

    #[test]
    fn sample_parses() {
        let c = Config::from_yaml(SAMPLE).unwrap();
        assert_eq!(c.partition, "aws");
        let p = c.provider("https://oidc.example.test/id/ABC").unwrap();
        assert_eq!(
            p.arn,
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"
        );
        assert_eq!(p.key_prefix, "oidc.example.test/id/ABC");
        assert!(c.provider("https://oidc.example.test/id/ABC/").is_none());
        let r = c
            .role("arn:aws:iam::111122223333:role/team/allow-read")
            .unwrap();
        assert_eq!(r.max_session_duration, 7200);
        assert_eq!(r.role_id.len(), 21);
        assert!(r.role_id.starts_with("AROA"));
        assert_eq!(r.role_id, derived_role_id(&r.arn), "stable");
        // Pinned: the same id as before (SHA-256 of the ARN, base32 of its first 85 bits).
        assert_eq!(r.role_id, "AROAGVVY3UY73KD2SQLXZ");
        assert_eq!(
            c.assumed_role_arn(&r.name, "s"),
            "arn:aws:sts::111122223333:assumed-role/allow-read/s"
        );
        assert_eq!(c.signing_keys, vec![PathBuf::from("master.key")]);
    }

    fn err(text: &str) -> String {
        Config::from_yaml(text).unwrap_err().to_string()
    }

    #[test]
    fn http_issuers_only_with_the_loud_option() {
        let http = SAMPLE.replace("issuer: https://oidc", "issuer: http://oidc");
        let insecure = ParseOptions {
            allow_insecure_http_issuer: true,
        };
        assert!(Config::from_yaml(&http).is_err(), "https only by default");
        assert!(Config::from_yaml_with(&http, &ParseOptions::default()).is_err());
        let c = Config::from_yaml_with(&http, &insecure).unwrap();
        let p = c.provider("http://oidc.example.test/id/ABC").unwrap();
        assert_eq!(
            p.arn,
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC"
        );
        assert_eq!(p.key_prefix, "oidc.example.test/id/ABC");
        assert!(c.provider("https://oidc.example.test/id/ABC").is_none());
        // Other schemes stay refused; https is still accepted.
        let ftp = SAMPLE.replace("issuer: https://oidc", "issuer: ftp://oidc");
        assert!(Config::from_yaml_with(&ftp, &insecure).is_err());
        assert!(Config::from_yaml_with(SAMPLE, &insecure).is_ok());
        let empty = SAMPLE.replace(
            "issuer: https://oidc.example.test/id/ABC",
            "issuer: http://",
        );
        assert!(Config::from_yaml_with(&empty, &insecure).is_err());
    }

    #[test]
    fn the_gateway_section_is_left_to_the_gateway() {
        let with = format!("{SAMPLE}gateway:\n  upstream:\n    url: http://127.0.0.1:8000\n");
        assert!(Config::from_yaml(&with).is_ok());
        assert!(err(&format!("{SAMPLE}gatway: {{}}\n")).contains("gatway"));
    }

    #[test]
    fn yaml_dialect() {
        let e = err(&SAMPLE.replace("name: allow-read", "name: allow-read\n    name: x"));
        assert!(e.contains("roles[0]: duplicate mapping key: name"), "{e}");
        let e = err(&SAMPLE.replace("jwksFile:", "jwksfile:"));
        assert!(
            e.contains("providers[0].jwksfile: unknown field `jwksfile`"),
            "{e}"
        );
        assert!(e.contains("line 7"), "{e}");
        // YAML 1.1 booleans are strings: `yes` is not `true`.
        let yes: serde_json::Value = from_yaml_str("a: yes\nb: true\nc: on").unwrap();
        assert_eq!(yes, serde_json::json!({"a": "yes", "b": true, "c": "on"}));
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(&SAMPLE.replace("maxSessionDuration: 7200", "maxSessionDuration: 100"));
        assert!(e.starts_with("roles[0].maxSessionDuration:"), "{e}");
        let e = err(&SAMPLE.replace("\"111122223333\"", "\"1234\""));
        assert!(e.starts_with("account:"), "{e}");
        let e = err(&SAMPLE.replace("issuer: https://oidc", "issuer: http://oidc"));
        assert!(e.starts_with("providers[0].issuer:"), "{e}");
        assert!(e.contains("--insecure-allow-http-issuer"), "{e}");
        let e = err(&SAMPLE.replace("jwksFile:", "jwksfile:"));
        assert!(e.contains("providers[0]") && e.contains("jwksfile"), "{e}");
        let e = err(&SAMPLE.replace("policy/x]", "policy/y]"));
        assert!(e.starts_with("roles[0].managedPolicies[0]:"), "{e}");
        let e = err(&SAMPLE.replace(
            "Effect: Allow\n          Principal",
            "Effect: Maybe\n          Principal",
        ));
        assert!(e.starts_with("roles[0].trustPolicy:"), "{e}");
        let e = err(&SAMPLE.replace("partition: aws\n", "").replace(
            "region: us-east-1",
            "region: us-east-1\npartition: aws-moon",
        ));
        assert!(e.starts_with("partition:"), "{e}");
    }
}
