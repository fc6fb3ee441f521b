//! The IAM side: roles with their trust and permission policies, read from an
//! `aws iam get-account-authorization-details` export or an `irsa sts` configuration.

use irsa_policy::Policy;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::AuditError;

/// Largest input document accepted (an account export of a large account is a few MiB).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// The IAM account (or the part of it that matters for IRSA).
#[derive(Debug, Clone)]
pub struct Account {
    /// Every role, in input order.
    pub roles: Vec<Role>,
    /// The OIDC providers, when the input lists them (an `irsa sts` configuration does; an
    /// authorization-details export does not).
    pub providers: Option<Vec<OidcProvider>>,
    /// Where the account came from (`authorization-details export`, `irsa sts configuration`,
    /// `AWS account 111122223333`).
    pub source: String,
}

/// An IAM OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`.
    pub arn: String,
    /// The issuer without scheme (`HOST/PATH`), which is also the condition-key prefix.
    pub key_prefix: String,
    /// The client ids (accepted audiences).
    pub client_ids: Vec<String>,
}

/// A policy document as given, and its parse.
#[derive(Debug, Clone)]
pub struct Document {
    /// The JSON text (URL-decoded when the input had it URL-encoded).
    pub text: String,
    /// The parsed policy, or IAM's wording of why it does not parse.
    pub policy: Result<Policy, String>,
}

impl Document {
    fn from_text(text: String) -> Document {
        let policy = Policy::parse(&text).map_err(|e| e.to_string());
        Document { text, policy }
    }

    /// A policy document as the IAM API returns it (`GetRole`'s `AssumeRolePolicyDocument`,
    /// `GetRolePolicy`, `GetPolicyVersion`: URL-encoded JSON), or already decoded.
    /// `field` names it in the error. A document that does not parse is kept with IAM's
    /// wording of why; only text that cannot be URL-decoded is an error.
    pub fn from_iam(field: &str, text: &str) -> Result<Document, AuditError> {
        if text.len() > MAX_INPUT_BYTES {
            return Err(AuditError::TooLarge(MAX_INPUT_BYTES));
        }
        document_text(field, &Value::String(text.to_owned())).map(Document::from_text)
    }
}

/// Where a permission policy comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PolicySource {
    /// An inline role policy.
    Inline {
        /// The policy name.
        name: String,
    },
    /// An attached managed policy.
    Managed {
        /// The policy name.
        name: String,
        /// The policy ARN.
        arn: String,
        /// The default version used (`v3`), when known.
        version: Option<String>,
    },
}

impl PolicySource {
    /// `inline:NAME` or the managed policy's ARN (with `@VERSION`).
    pub fn label(&self) -> String {
        match self {
            PolicySource::Inline { name } => format!("inline:{name}"),
            PolicySource::Managed {
                arn,
                version: Some(v),
                ..
            } => format!("{arn}@{v}"),
            PolicySource::Managed { arn, .. } => arn.clone(),
        }
    }
}

/// A permission policy of a role.
#[derive(Debug, Clone)]
pub struct PermissionPolicy {
    /// Inline or managed.
    pub source: PolicySource,
    /// The document; `None` for a managed policy whose document the input does not hold.
    pub document: Option<Document>,
}

/// An IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// The role's path (`/` by default).
    pub path: String,
    /// The role's ARN.
    pub arn: String,
    /// The trust (assume-role) policy.
    pub trust: Document,
    /// Inline policies, then attached managed policies.
    pub permissions: Vec<PermissionPolicy>,
    /// The permissions boundary's ARN, if any.
    pub boundary: Option<String>,
}

impl Role {
    /// The account id of the role's ARN.
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or("")
    }

    /// The partition of the role's ARN.
    pub fn partition(&self) -> &str {
        self.arn.split(':').nth(1).unwrap_or("aws")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawExport {
    role_detail_list: Option<Vec<RawRole>>,
    #[serde(default)]
    policies: Vec<RawManagedPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRole {
    #[serde(default)]
    path: Option<String>,
    role_name: String,
    arn: String,
    assume_role_policy_document: Option<Value>,
    #[serde(default)]
    role_policy_list: Vec<RawInline>,
    #[serde(default)]
    attached_managed_policies: Vec<RawAttached>,
    #[serde(default)]
    permissions_boundary: Option<RawBoundary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInline {
    policy_name: String,
    policy_document: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAttached {
    policy_name: String,
    policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawBoundary {
    permissions_boundary_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawManagedPolicy {
    arn: String,
    #[serde(default)]
    default_version_id: Option<String>,
    #[serde(default)]
    policy_version_list: Vec<RawVersion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawVersion {
    document: Option<Value>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    is_default_version: bool,
}

/// A policy document as IAM returns it: a URL-encoded JSON string (the IAM API and most
/// SDKs), or already decoded (the aws CLI and boto3 decode it into an object).
fn document_text(field: &str, v: &Value) -> Result<String, AuditError> {
    match v {
        Value::Object(_) => Ok(v.to_string()),
        Value::String(s) if s.trim_start().starts_with('{') => Ok(s.clone()),
        Value::String(s) => percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|t| t.into_owned())
            .map_err(|_| AuditError::Export(format!("{field}: not UTF-8 once URL-decoded"))),
        _ => Err(AuditError::Export(format!(
            "{field}: a policy document must be a JSON object or a URL-encoded string"
        ))),
    }
}

impl Account {
    /// Reads the JSON of `aws iam get-account-authorization-details` (one page, or the
    /// pages merged). Managed policies use their default version (`IsDefaultVersion`);
    /// other versions are ignored.
    pub fn from_authorization_details(json: &str) -> Result<Account, AuditError> {
        if json.len() > MAX_INPUT_BYTES {
            return Err(AuditError::TooLarge(MAX_INPUT_BYTES));
        }
        let raw: RawExport =
            serde_json::from_str(json).map_err(|e| AuditError::Export(e.to_string()))?;
        let raw_roles = raw.role_detail_list.ok_or_else(|| {
            AuditError::Export(
                "no `RoleDetailList`: not the output of `aws iam get-account-authorization-details`"
                    .into(),
            )
        })?;
        let mut managed: BTreeMap<String, (Option<String>, Document)> = BTreeMap::new();
        for (i, p) in raw.policies.iter().enumerate() {
            let default = p.policy_version_list.iter().find(|v| v.is_default_version);
            let Some(v) = default else { continue };
            let Some(doc) = &v.document else { continue };
            let text = document_text(&format!("Policies[{i}].PolicyVersionList"), doc)?;
            let version = v
                .version_id
                .clone()
                .or_else(|| p.default_version_id.clone());
            managed.insert(p.arn.clone(), (version, Document::from_text(text)));
        }
        let mut roles = Vec::with_capacity(raw_roles.len());
        for (i, r) in raw_roles.into_iter().enumerate() {
            let trust = match &r.assume_role_policy_document {
                Some(d) => Document::from_text(document_text(
                    &format!("RoleDetailList[{i}].AssumeRolePolicyDocument"),
                    d,
                )?),
                None => Document {
                    text: String::new(),
                    policy: Err("the role has no AssumeRolePolicyDocument".into()),
                },
            };
            let mut permissions = Vec::new();
            for (j, p) in r.role_policy_list.iter().enumerate() {
                let text = document_text(
                    &format!("RoleDetailList[{i}].RolePolicyList[{j}].PolicyDocument"),
                    &p.policy_document,
                )?;
                permissions.push(PermissionPolicy {
                    source: PolicySource::Inline {
                        name: p.policy_name.clone(),
                    },
                    document: Some(Document::from_text(text)),
                });
            }
            for a in &r.attached_managed_policies {
                let found = managed.get(&a.policy_arn);
                permissions.push(PermissionPolicy {
                    source: PolicySource::Managed {
                        name: a.policy_name.clone(),
                        arn: a.policy_arn.clone(),
                        version: found.and_then(|(v, _)| v.clone()),
                    },
                    document: found.map(|(_, d)| d.clone()),
                });
            }
            roles.push(Role {
                name: r.role_name,
                path: r.path.unwrap_or_else(|| "/".into()),
                arn: r.arn,
                trust,
                permissions,
                boundary: r.permissions_boundary.map(|b| b.permissions_boundary_arn),
            });
        }
        Ok(Account {
            roles,
            providers: None,
            source: "authorization-details export".into(),
        })
    }

    /// The role with this ARN.
    pub fn role(&self, arn: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.arn == arn)
    }

    /// The account ids the roles belong to.
    pub fn account_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.roles.iter().map(Role::account).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_url_encoded_decoded_or_as_text() {
        let obj = serde_json::json!({"Version": "2012-10-17"});
        assert_eq!(
            document_text("f", &obj).unwrap(),
            r#"{"Version":"2012-10-17"}"#
        );
        let enc = Value::String("%7B%22Version%22%3A%20%222012-10-17%22%7D".into());
        assert_eq!(
            document_text("f", &enc).unwrap(),
            r#"{"Version": "2012-10-17"}"#
        );
        // `+` is not a space in IAM's encoding (spaces are %20).
        let plus = Value::String("a+b".into());
        assert_eq!(document_text("f", &plus).unwrap(), "a+b");
        assert!(document_text("f", &Value::Bool(true)).is_err());
        assert!(document_text("f", &Value::String("%FF%FE".into())).is_err());
    }

    #[test]
    fn not_an_export_is_refused() {
        assert!(Account::from_authorization_details("{}").is_err());
        assert!(Account::from_authorization_details("[]").is_err());
        assert!(Account::from_authorization_details(r#"{"RoleDetailList": []}"#).is_ok());
    }
}
