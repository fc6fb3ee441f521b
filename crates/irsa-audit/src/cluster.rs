//! The Kubernetes side: ServiceAccounts (from `kubectl get sa -A -o json` or the API's
//! list) and the cluster's issuer.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::AuditError;
use crate::account::MAX_INPUT_BYTES;

/// The default annotation prefix (`eks.amazonaws.com/role-arn`, `…/audience`).
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// The audience the pod identity webhook puts in the projected token by default.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// A ServiceAccount: its name and annotations (nothing else matters here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The annotations.
    pub annotations: BTreeMap<String, String>,
}

impl ServiceAccount {
    /// `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The token subject: `system:serviceaccount:NAMESPACE:NAME`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// The `PREFIX/role-arn` annotation, trimmed as the webhook trims it.
    pub fn role_arn(&self, prefix: &str) -> Option<&str> {
        self.annotations
            .get(&format!("{prefix}/role-arn"))
            .map(|s| s.trim())
    }

    /// The `PREFIX/audience` annotation, else `default`.
    pub fn audience<'a>(&'a self, prefix: &str, default: &'a str) -> &'a str {
        self.annotations
            .get(&format!("{prefix}/audience"))
            .map_or(default, String::as_str)
    }
}

#[derive(Deserialize)]
struct RawList {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    items: Option<Vec<RawSa>>,
    #[serde(default)]
    metadata: Option<RawMeta>,
}

#[derive(Deserialize)]
struct RawSa {
    #[serde(default)]
    kind: Option<String>,
    metadata: RawMeta,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

fn convert(kind: Option<&str>, m: RawMeta) -> Result<Option<ServiceAccount>, AuditError> {
    if kind.is_some_and(|k| k != "ServiceAccount") {
        return Ok(None);
    }
    let name = m
        .name
        .ok_or_else(|| AuditError::ServiceAccounts("an item without metadata.name".into()))?;
    let namespace = m.namespace.ok_or_else(|| {
        AuditError::ServiceAccounts(format!("`{name}` has no metadata.namespace"))
    })?;
    // The API server only stores DNS-1123 names; anything else (a `:` above all) would make
    // `system:serviceaccount:NS:NAME` name another ServiceAccount than this one.
    if !dns1123(&namespace, 63, false) {
        return Err(AuditError::ServiceAccounts(format!(
            "namespace `{namespace}` is not a DNS-1123 label"
        )));
    }
    if !dns1123(&name, 253, true) {
        return Err(AuditError::ServiceAccounts(format!(
            "`{namespace}/{name}`: the name is not a DNS-1123 subdomain"
        )));
    }
    Ok(Some(ServiceAccount {
        namespace,
        name,
        annotations: m.annotations.unwrap_or_default(),
    }))
}

/// A DNS-1123 label (`dots` false: `[a-z0-9-]`, at most 63) or subdomain (`dots` true:
/// labels joined by `.`), as Kubernetes validates namespace and ServiceAccount names.
fn dns1123(s: &str, max: usize, dots: bool) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty()
        && s.len() <= max
        && if dots {
            s.split('.').all(label)
        } else {
            label(s)
        }
}

/// Reads a ServiceAccount list (`kubectl get sa -A -o json`, `GET /api/v1/serviceaccounts`,
/// a `List` of mixed kinds whose other items are skipped) or a single ServiceAccount.
/// The result is sorted by namespace and name.
pub fn parse_service_accounts(json: &str) -> Result<Vec<ServiceAccount>, AuditError> {
    if json.len() > MAX_INPUT_BYTES {
        return Err(AuditError::TooLarge(MAX_INPUT_BYTES));
    }
    let raw: RawList =
        serde_json::from_str(json).map_err(|e| AuditError::ServiceAccounts(e.to_string()))?;
    let mut out = Vec::new();
    match (raw.items, raw.kind.as_deref()) {
        (Some(items), _) => {
            for it in items {
                if let Some(sa) = convert(it.kind.as_deref(), it.metadata)? {
                    out.push(sa);
                }
            }
        }
        (None, Some("ServiceAccount")) => {
            let m = raw.metadata.ok_or_else(|| {
                AuditError::ServiceAccounts("a ServiceAccount without metadata".into())
            })?;
            out.extend(convert(None, m)?);
        }
        _ => {
            return Err(AuditError::ServiceAccounts(
                "neither a list with `items` nor a ServiceAccount".into(),
            ));
        }
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);
    Ok(out)
}

/// The condition-key prefix of an issuer URL: without `https://` and a final `/`.
pub fn issuer_key_prefix(issuer: &str) -> &str {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer);
    rest.strip_suffix('/').unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_dns1123_are_refused() {
        let sa = |ns: &str, name: &str| {
            serde_json::json!({"kind": "ServiceAccount",
                "metadata": {"namespace": ns, "name": name}})
            .to_string()
        };
        assert!(parse_service_accounts(&sa("prod", "app.v2")).is_ok());
        // `a:b` / `c` would have the subject of `a` / `b:c`.
        for (ns, name) in [
            ("a:b", "c"),
            ("a", "b:c"),
            ("", "c"),
            ("a", ""),
            ("A", "c"),
            ("a.b", "c"),
            ("a", "-c"),
            ("a", "c/d"),
        ] {
            assert!(
                parse_service_accounts(&sa(ns, name)).is_err(),
                "{ns}/{name}"
            );
        }
    }

    #[test]
    fn lists_and_single_service_accounts() {
        let list = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"b","namespace":"x",
              "annotations":{"eks.amazonaws.com/role-arn":" arn:aws:iam::1:role/r "}}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"x"}},
            {"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"x"}}]}"#;
        let sas = parse_service_accounts(list).unwrap();
        assert_eq!(
            sas.iter().map(ServiceAccount::id).collect::<Vec<_>>(),
            ["x/a", "x/b"]
        );
        assert_eq!(
            sas[1].role_arn(DEFAULT_ANNOTATION_PREFIX),
            Some("arn:aws:iam::1:role/r")
        );
        let one = r#"{"kind":"ServiceAccount","metadata":{"name":"a","namespace":"y"}}"#;
        assert_eq!(
            parse_service_accounts(one).unwrap()[0].subject(),
            "system:serviceaccount:y:a"
        );
        assert!(parse_service_accounts(r#"{"kind":"Pod"}"#).is_err());
        assert!(parse_service_accounts(r#"{"items":[{"metadata":{"name":"a"}}]}"#).is_err());
    }

    #[test]
    fn key_prefix() {
        assert_eq!(
            issuer_key_prefix("https://oidc.eks.us-west-2.amazonaws.com/id/AB/"),
            "oidc.eks.us-west-2.amazonaws.com/id/AB"
        );
        assert_eq!(
            issuer_key_prefix("https://127.0.0.1:6443"),
            "127.0.0.1:6443"
        );
    }
}
