//! The AdmissionReview envelope (admission.k8s.io/v1 and v1beta1, same schema), decoded
//! from raw JSON so the pod object is never round-tripped through typed structs.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The admission API versions this server answers.
pub const V1: &str = "admission.k8s.io/v1";
/// The older admission API version, with the same schema.
pub const V1BETA1: &str = "admission.k8s.io/v1beta1";

/// Why a request body is not a usable AdmissionReview. The message becomes the
/// `status.message` of a denying response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON.
    #[error("couldn't parse AdmissionReview: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("couldn't parse AdmissionReview: the body is not a JSON object")]
    NotObject,
    /// An `apiVersion` other than admission.k8s.io/v1 or v1beta1.
    #[error(
        "unsupported AdmissionReview apiVersion `{0}`: expected admission.k8s.io/v1 or admission.k8s.io/v1beta1"
    )]
    ApiVersion(String),
    /// A `kind` other than AdmissionReview.
    #[error("unsupported kind `{0}`: expected AdmissionReview")]
    Kind(String),
    /// No `request` (the reference says `bad content`).
    #[error("bad content: the AdmissionReview has no `request`")]
    NoRequest,
    /// `request.uid` missing or not a string.
    #[error("bad content: the AdmissionReview request has no `uid`")]
    NoUid,
    /// `request.object` missing or not an object.
    #[error("bad content: the AdmissionReview request has no pod `object`")]
    NoObject,
}

/// The parts of an AdmissionReview the webhook uses. `object` is the raw pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// `apiVersion` as sent (echoed in the response); `None` when absent.
    pub api_version: Option<String>,
    /// `kind` as sent; `None` when absent.
    pub kind: Option<String>,
    /// `request.uid`.
    pub uid: String,
    /// `request.namespace` (the pod's namespace; empty when absent).
    pub namespace: String,
    /// `request.operation` (`CREATE`, ...), if given.
    pub operation: Option<String>,
    /// `request.kind.kind` (`Pod`), if given.
    pub resource_kind: Option<String>,
    /// `request.name` or the pod's `metadata.name`/`generateName`, for logs.
    pub name: String,
    /// `request.object`: the pod, untouched.
    pub object: Value,
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

/// Decodes an AdmissionReview body. On failure, the partial envelope (`apiVersion`,
/// `kind`, `uid`) that could be read is returned with the error so the denial can still
/// echo it.
pub fn decode(body: &[u8]) -> Result<Review, (Envelope, ReviewError)> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| (Envelope::default(), ReviewError::Json(e.to_string())))?;
    let Value::Object(mut top) = v else {
        return Err((Envelope::default(), ReviewError::NotObject));
    };
    let api_version = str_field(&top, "apiVersion").map(str::to_string);
    let kind = str_field(&top, "kind").map(str::to_string);
    let mut env = Envelope {
        api_version: api_version.clone(),
        kind: kind.clone(),
        uid: String::new(),
    };
    if let Some(av) = api_version
        .as_ref()
        .filter(|av| *av != V1 && *av != V1BETA1)
    {
        return Err((Envelope::default(), ReviewError::ApiVersion(av.clone())));
    }
    if let Some(k) = kind.as_ref().filter(|k| *k != "AdmissionReview") {
        return Err((Envelope::default(), ReviewError::Kind(k.clone())));
    }
    let Some(Value::Object(mut req)) = top.remove("request") else {
        return Err((env, ReviewError::NoRequest));
    };
    let Some(uid) = str_field(&req, "uid").map(str::to_string) else {
        return Err((env, ReviewError::NoUid));
    };
    env.uid = uid.clone();
    let object = match req.remove("object") {
        Some(o @ Value::Object(_)) => o,
        _ => return Err((env, ReviewError::NoObject)),
    };
    let namespace = str_field(&req, "namespace").unwrap_or("").to_string();
    let operation = str_field(&req, "operation").map(str::to_string);
    let resource_kind = req
        .get("kind")
        .and_then(|k| k.get("kind"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let name = str_field(&req, "name")
        .filter(|n| !n.is_empty())
        .or_else(|| object.pointer("/metadata/name").and_then(Value::as_str))
        .or_else(|| {
            object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
        })
        .unwrap_or("")
        .to_string();
    Ok(Review {
        api_version,
        kind,
        uid,
        namespace,
        operation,
        resource_kind,
        name,
        object,
    })
}

/// What a response echoes from its request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Request `apiVersion`; admission.k8s.io/v1 when absent.
    pub api_version: Option<String>,
    /// Request `kind`; AdmissionReview when absent.
    pub kind: Option<String>,
    /// Request uid; empty when unknown.
    pub uid: String,
}

impl Review {
    /// The envelope to echo.
    pub fn envelope(&self) -> Envelope {
        Envelope {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            uid: self.uid.clone(),
        }
    }
}

fn review(env: &Envelope, response: Value) -> Value {
    json!({
        "apiVersion": env.api_version.as_deref().unwrap_or(V1),
        "kind": env.kind.as_deref().unwrap_or("AdmissionReview"),
        "response": response,
    })
}

/// An allowing response, with a JSON Patch (its serialised bytes) if there is one.
pub fn allowed(env: &Envelope, patch: Option<&[u8]>) -> Value {
    let mut resp = json!({ "uid": env.uid, "allowed": true });
    if let (Some(p), Value::Object(m)) = (patch, &mut resp) {
        m.insert(
            "patch".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(p)),
        );
        m.insert("patchType".into(), Value::String("JSONPatch".into()));
    }
    review(env, resp)
}

/// A denying response with a message (how the reference answers bad requests).
pub fn denied(env: &Envelope, code: u16, message: &str) -> Value {
    review(
        env,
        json!({
            "uid": env.uid,
            "allowed": false,
            "status": { "code": code, "message": message },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_v1beta1_and_keeps_unknown_pod_fields() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview",
          "request":{"uid":"u1","namespace":"ns","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},
          "object":{"metadata":{"generateName":"web-"},"spec":{"futureField":{"x":1},"containers":[]}}}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.api_version.as_deref(), Some(V1BETA1));
        assert_eq!(r.uid, "u1");
        assert_eq!(r.namespace, "ns");
        assert_eq!(r.name, "web-");
        assert_eq!(r.resource_kind.as_deref(), Some("Pod"));
        assert_eq!(r.object["spec"]["futureField"]["x"], 1);
        let out = allowed(&r.envelope(), Some(b"[]"));
        assert_eq!(out["apiVersion"], V1BETA1);
        assert_eq!(out["response"]["uid"], "u1");
        assert_eq!(out["response"]["patch"], "W10=");
        assert_eq!(out["response"]["patchType"], "JSONPatch");
        let no_patch = allowed(&r.envelope(), None);
        assert!(no_patch["response"].get("patchType").is_none());
    }

    #[test]
    fn errors_keep_what_can_be_echoed() {
        let (env, e) = decode(b"{not json").unwrap_err();
        assert!(matches!(e, ReviewError::Json(_)));
        assert_eq!(env, Envelope::default());
        let (env, e) =
            decode(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":"x"}}"#)
                .unwrap_err();
        assert_eq!(e, ReviewError::NoObject);
        assert_eq!(env.uid, "u");
        let d = denied(&env, 400, &e.to_string());
        assert_eq!(d["response"]["allowed"], false);
        assert_eq!(d["response"]["uid"], "u");
        assert_eq!(d["kind"], "AdmissionReview");
        assert!(matches!(
            decode(br#"{"apiVersion":"v1","kind":"Pod"}"#)
                .unwrap_err()
                .1,
            ReviewError::ApiVersion(_)
        ));
        assert_eq!(decode(b"{}").unwrap_err().1, ReviewError::NoRequest);
        assert_eq!(decode(b"[1]").unwrap_err().1, ReviewError::NotObject);
    }
}
