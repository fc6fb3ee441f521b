//! The JSON input of `irsa policy eval` (and of the fixture cases): a request plus the
//! policies that apply to it. Pure: strings in, values out.
//!
//! ```json
//! {"request": {"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
//!              "principal": "arn:aws:iam::111122223333:user/alice",
//!              "principalType": "AWS",
//!              "resourceAccount": "111122223333",
//!              "sessionIssuer": "arn:aws:iam::111122223333:role/app",
//!              "context": {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["a", "b"], "s3:max-keys": 10}},
//!  "identityPolicies": [POLICY, ...], "resourcePolicy": POLICY,
//!  "permissionBoundaries": [POLICY, ...], "sessionPolicies": [POLICY, ...],
//!  "expected": "Allow"}
//! ```
//! A POLICY is a JSON object or a string holding the policy document. `resource` may also
//! be `{"resource": ARN, "accountId": ACCOUNT}`. `principalType` (`AWS`, `Federated`,
//! `Service`, `CanonicalUser`) is optional: without it the type is inferred from the
//! principal ([`PrincipalType::infer`]). `sessionIssuer` is optional
//! ([`Request::session_issuer`]). Unknown top-level fields are ignored.

use crate::context::{Context, Request};
use crate::error::PolicyError;
use crate::eval::{Decision, EvalInput, Evaluation, evaluate};
use crate::policy::{Policy, PrincipalType};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Why an evaluation document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// Not JSON, or the wrong shape.
    #[error("invalid input: {0}")]
    Input(String),
    /// A policy failed to parse.
    #[error("{at}: MalformedPolicyDocument: {error}")]
    Policy {
        /// Which policy, e.g. `identityPolicies[1]`.
        at: String,
        /// The error.
        error: PolicyError,
    },
}

/// A parsed evaluation document.
#[derive(Debug, Clone)]
pub struct EvalDocument {
    /// The request.
    pub request: Request,
    /// Identity policies.
    pub identity_policies: Vec<Policy>,
    /// The resource (or trust) policy.
    pub resource_policy: Option<Policy>,
    /// Permissions boundary policies.
    pub permission_boundaries: Vec<Policy>,
    /// Session policies.
    pub session_policies: Vec<Policy>,
    /// The `expected` decision, for fixture cases.
    pub expected: Option<Decision>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDoc {
    request: Value,
    #[serde(default)]
    identity_policies: Vec<Box<RawValue>>,
    #[serde(default)]
    resource_policy: Option<Box<RawValue>>,
    #[serde(default)]
    permission_boundaries: Vec<Box<RawValue>>,
    #[serde(default)]
    session_policies: Vec<Box<RawValue>>,
    #[serde(default)]
    expected: Option<Value>,
}

fn input_err(s: impl Into<String>) -> DocumentError {
    DocumentError::Input(s.into())
}

fn policy(raw: &RawValue, at: String) -> Result<Option<Policy>, DocumentError> {
    let text = raw.get().trim();
    if text == "null" {
        return Ok(None);
    }
    let parsed = if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(|e| input_err(format!("{at}: {e}")))?;
        Policy::parse(&s)
    } else {
        Policy::parse(text)
    };
    parsed
        .map(Some)
        .map_err(|error| DocumentError::Policy { at, error })
}

fn policies(raws: &[Box<RawValue>], name: &str) -> Result<Vec<Policy>, DocumentError> {
    let mut out = Vec::with_capacity(raws.len());
    for (i, r) in raws.iter().enumerate() {
        if let Some(p) = policy(r, format!("{name}[{i}]"))? {
            out.push(p);
        }
    }
    Ok(out)
}

fn scalar(v: &Value, key: &str) -> Result<String, DocumentError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(input_err(format!(
            "context value of `{key}` must be a string, number, boolean or an array of them"
        ))),
    }
}

/// Parses the `request` object.
fn parse_request(v: &Value) -> Result<Request, DocumentError> {
    let Value::Object(o) = v else {
        return Err(input_err("`request` must be an object"));
    };
    let action = o
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| input_err("`request.action` must be a string"))?;
    let mut resource_account = o
        .get("resourceAccount")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let resource = match o.get("resource") {
        None | Some(Value::Null) => "*".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(r)) => {
            if let Some(a) = r.get("accountId").and_then(Value::as_str) {
                resource_account = Some(a.to_owned());
            }
            r.get("resource")
                .and_then(Value::as_str)
                .ok_or_else(|| input_err("`request.resource.resource` must be a string"))?
                .to_owned()
        }
        Some(_) => return Err(input_err("`request.resource` must be a string")),
    };
    let principal = match o.get("principal") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(input_err("`request.principal` must be a string")),
    };
    let principal_type = match o.get("principalType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<PrincipalType>()
                .map_err(|e| input_err(format!("`request.principalType`: {e}")))?,
        ),
        Some(_) => return Err(input_err("`request.principalType` must be a string")),
    };
    let session_issuer = match o.get("sessionIssuer") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(input_err("`request.sessionIssuer` must be a string")),
    };
    let mut context = Context::new();
    match o.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            for (k, v) in c {
                match v {
                    Value::Array(a) => {
                        let vals = a
                            .iter()
                            .map(|x| scalar(x, k))
                            .collect::<Result<Vec<_>, _>>()?;
                        context.insert_multi(k, vals);
                    }
                    other => {
                        context.insert(k, scalar(other, k)?);
                    }
                }
            }
        }
        Some(_) => return Err(input_err("`request.context` must be an object")),
    }
    Ok(Request {
        action: action.to_owned(),
        resource,
        principal,
        principal_type,
        resource_account,
        session_issuer,
        context,
    })
}

impl EvalDocument {
    /// Parses an evaluation document.
    pub fn parse(json: &str) -> Result<EvalDocument, DocumentError> {
        let raw: RawDoc = serde_json::from_str(json).map_err(|e| input_err(e.to_string()))?;
        let request = parse_request(&raw.request)?;
        let expected = match &raw.expected {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                Decision::parse(s)
                    .ok_or_else(|| input_err(format!("unknown expected decision `{s}`")))?,
            ),
            Some(_) => return Err(input_err("`expected` must be a string")),
        };
        let resource_policy = match &raw.resource_policy {
            Some(r) => policy(r, "resourcePolicy".into())?,
            None => None,
        };
        Ok(EvalDocument {
            request,
            identity_policies: policies(&raw.identity_policies, "identityPolicies")?,
            resource_policy,
            permission_boundaries: policies(&raw.permission_boundaries, "permissionBoundaries")?,
            session_policies: policies(&raw.session_policies, "sessionPolicies")?,
            expected,
        })
    }

    /// The policies as an [`EvalInput`].
    pub fn input(&self) -> EvalInput<'_> {
        EvalInput {
            identity_policies: &self.identity_policies,
            resource_policy: self.resource_policy.as_ref(),
            permission_boundaries: &self.permission_boundaries,
            session_policies: &self.session_policies,
        }
    }

    /// Evaluates the request.
    pub fn evaluate(&self) -> Evaluation {
        evaluate(&self.input(), &self.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_document() {
        let d = EvalDocument::parse(
            r#"{"request":{"action":"s3:GetObject","resource":{"resource":"arn:aws:s3:::b/k","accountId":"111122223333"},
                "principal":"arn:aws:iam::111122223333:user/a","context":{"aws:SecureTransport":true,"s3:max-keys":10,"aws:TagKeys":["a","b"]}},
               "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}},
                 "{\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"ec2:*\",\"Resource\":\"*\"}}"],
               "resourcePolicy":null,"expected":"Allow","name":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(d.identity_policies.len(), 2);
        assert_eq!(d.request.resource_account.as_deref(), Some("111122223333"));
        assert_eq!(
            d.request
                .context
                .get("aws:securetransport")
                .map(|v| v.values()[0].as_str()),
            Some("true")
        );
        assert_eq!(
            d.request
                .context
                .get("s3:max-keys")
                .map(|v| v.values()[0].as_str()),
            Some("10")
        );
        assert_eq!(d.expected, Some(Decision::Allow));
        assert_eq!(d.evaluate().decision, Decision::Allow);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            EvalDocument::parse("{"),
            Err(DocumentError::Input(_))
        ));
        assert!(matches!(
            EvalDocument::parse(r#"{"request":{}}"#),
            Err(DocumentError::Input(_))
        ));
        let e = EvalDocument::parse(
            r#"{"request":{"action":"s3:x"},"identityPolicies":[{"Statement":[]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "identityPolicies[0]: MalformedPolicyDocument: Syntax errors in policy."
        );
        assert!(
            EvalDocument::parse(r#"{"request":{"action":"s3:x","context":{"k":{"a":1}}}}"#)
                .is_err()
        );
    }
}
