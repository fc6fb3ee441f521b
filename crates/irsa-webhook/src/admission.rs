//! The AdmissionReview envelope (admission.k8s.io/v1 and v1beta1, same schema), decoded
//! from raw JSON so the pod object is never round-tripped through typed structs.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

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

/// The parts of an AdmissionReview the webhook uses, borrowed from the body. `object` is
/// the raw pod.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    /// `apiVersion` as sent (echoed in the response); `None` when absent.
    pub api_version: Option<Cow<'a, str>>,
    /// `kind` as sent; `None` when absent.
    pub kind: Option<Cow<'a, str>>,
    /// `request.uid`.
    pub uid: Cow<'a, str>,
    /// `request.namespace` (the pod's namespace; empty when absent).
    pub namespace: Cow<'a, str>,
    /// `request.operation` (`CREATE`, ...), if given.
    pub operation: Option<Cow<'a, str>>,
    /// `request.kind.kind` (`Pod`), if given.
    pub resource_kind: Option<Cow<'a, str>>,
    /// `request.name` when given and not empty (else the pod's, see
    /// `irsa_mutate::Pod::name`), for logs.
    pub name: Option<Cow<'a, str>>,
    /// `request.object`: the pod, untouched.
    pub object: &'a RawValue,
}

#[derive(Deserialize)]
struct ReviewIn<'a> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    request: Option<Obj<RequestIn<'a>>>,
}

#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(borrow, default)]
    uid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    namespace: Option<&'a RawValue>,
    #[serde(borrow, default)]
    operation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    kind: Option<Obj<KindIn<'a>>>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct KindIn<'a> {
    #[serde(borrow, default)]
    kind: Option<&'a RawValue>,
}

/// A member read as `T` when it is an object, and only noted otherwise, in the same pass.
enum Obj<T> {
    Object(T),
    Other,
}

impl<T> Obj<T> {
    fn object(self) -> Option<T> {
        match self {
            Obj::Object(t) => Some(t),
            Obj::Other => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Obj<T>, M::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj::Object)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Obj<T>, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_unit<E>(self) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn first_byte(raw: &RawValue) -> Option<u8> {
    raw.get().trim_start().as_bytes().first().copied()
}

/// A string value, borrowed unless it has escapes; `None` when not a string.
fn text(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if first_byte(raw) != Some(b'"') {
        return None;
    }
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned),
    }
}

/// Decodes an AdmissionReview body without building a document: members the webhook does
/// not use are skipped, the pod is kept as its raw text. On failure, the partial envelope
/// (`apiVersion`, `kind`, `uid`) that could be read is returned with the error so the
/// denial can still echo it.
pub fn decode(body: &[u8]) -> Result<Review<'_>, (Envelope, ReviewError)> {
    let json_err = |e: serde_json::Error| (Envelope::default(), ReviewError::Json(e.to_string()));
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(json_err)?;
        return Err((Envelope::default(), ReviewError::NotObject));
    }
    let top: ReviewIn<'_> = serde_json::from_slice(body).map_err(json_err)?;
    let api_version = text(top.api_version);
    let kind = text(top.kind);
    let mut env = Envelope {
        api_version: api_version.as_deref().map(str::to_string),
        kind: kind.as_deref().map(str::to_string),
        uid: String::new(),
    };
    if let Some(av) = api_version
        .as_ref()
        .filter(|av| *av != V1 && *av != V1BETA1)
    {
        return Err((Envelope::default(), ReviewError::ApiVersion(av.to_string())));
    }
    if let Some(k) = kind.as_ref().filter(|k| *k != "AdmissionReview") {
        return Err((Envelope::default(), ReviewError::Kind(k.to_string())));
    }
    let Some(req) = top.request.and_then(Obj::object) else {
        return Err((env, ReviewError::NoRequest));
    };
    let Some(uid) = text(req.uid) else {
        return Err((env, ReviewError::NoUid));
    };
    env.uid = uid.to_string();
    let Some(object) = req.object.filter(|o| first_byte(o) == Some(b'{')) else {
        return Err((env, ReviewError::NoObject));
    };
    let resource_kind = req.kind.and_then(Obj::object).and_then(|k| text(k.kind));
    Ok(Review {
        api_version,
        kind,
        uid,
        namespace: text(req.namespace).unwrap_or_default(),
        operation: text(req.operation),
        resource_kind,
        name: text(req.name).filter(|n| !n.is_empty()),
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

impl Review<'_> {
    /// The envelope to echo.
    pub fn envelope(&self) -> Envelope {
        Envelope {
            api_version: self.api_version.as_deref().map(str::to_string),
            kind: self.kind.as_deref().map(str::to_string),
            uid: self.uid.to_string(),
        }
    }
}

/// A JSON string literal.
fn json_str(out: &mut String, s: &str) {
    // serde_json's escaping of a `&str` cannot fail
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn review(env: &Envelope, capacity: usize, response: impl FnOnce(&mut String)) -> Vec<u8> {
    let mut out = String::with_capacity(capacity + 160);
    out.push_str(r#"{"apiVersion":"#);
    json_str(&mut out, env.api_version.as_deref().unwrap_or(V1));
    out.push_str(r#","kind":"#);
    json_str(&mut out, env.kind.as_deref().unwrap_or("AdmissionReview"));
    out.push_str(r#","response":{"uid":"#);
    json_str(&mut out, &env.uid);
    response(&mut out);
    out.push_str("}}");
    out.into_bytes()
}

/// An allowing AdmissionReview response (JSON text), with a JSON Patch (its serialised
/// bytes, base64-encoded into the response) if there is one.
pub fn allowed(env: &Envelope, patch: Option<&[u8]>) -> Vec<u8> {
    let capacity = patch.map_or(0, |p| p.len() * 4 / 3 + 4);
    review(env, capacity, |out| {
        out.push_str(r#","allowed":true"#);
        if let Some(p) = patch {
            out.push_str(r#","patch":""#);
            base64::engine::general_purpose::STANDARD.encode_string(p, out);
            out.push_str(r#"","patchType":"JSONPatch""#);
        }
    })
}

/// A denying AdmissionReview response (JSON text) with a message (how the reference
/// answers bad requests).
pub fn denied(env: &Envelope, code: u16, message: &str) -> Vec<u8> {
    review(env, message.len(), |out| {
        out.push_str(r#","allowed":false,"status":{"code":"#);
        out.push_str(&code.to_string());
        out.push_str(r#","message":"#);
        json_str(out, message);
        out.push('}');
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn decodes_v1beta1_and_keeps_unknown_pod_fields() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview",
          "request":{"uid":"u1","namespace":"ns","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},
          "userInfo":{"username":"x","groups":["a"]},
          "object":{"metadata":{"generateName":"web-"},"spec":{"futureField":{"x":1},"containers":[]}}}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.api_version.as_deref(), Some(V1BETA1));
        assert_eq!(r.uid, "u1");
        assert_eq!(r.namespace, "ns");
        assert_eq!(r.name, None);
        assert_eq!(r.operation.as_deref(), Some("CREATE"));
        assert_eq!(r.resource_kind.as_deref(), Some("Pod"));
        let pod: Value = serde_json::from_str(r.object.get()).unwrap();
        assert_eq!(pod["spec"]["futureField"]["x"], 1);
        let out = json(&allowed(&r.envelope(), Some(b"[]")));
        assert_eq!(out["apiVersion"], V1BETA1);
        assert_eq!(out["kind"], "AdmissionReview");
        assert_eq!(out["response"]["uid"], "u1");
        assert_eq!(out["response"]["allowed"], true);
        assert_eq!(out["response"]["patch"], "W10=");
        assert_eq!(out["response"]["patchType"], "JSONPatch");
        let no_patch = json(&allowed(&r.envelope(), None));
        assert!(no_patch["response"].get("patchType").is_none());
        assert!(no_patch["response"].get("patch").is_none());
    }

    #[test]
    fn escaped_strings_are_read_and_written() {
        let body = br#"{"request":{"uid":"a\"b\u00e9","name":"n\\1","object":{}}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.uid, "a\"b\u{e9}");
        assert_eq!(r.name.as_deref(), Some("n\\1"));
        let out = json(&denied(&r.envelope(), 400, "bad \"pod\"\n"));
        assert_eq!(out["apiVersion"], V1);
        assert_eq!(out["response"]["uid"], "a\"b\u{e9}");
        assert_eq!(out["response"]["status"]["code"], 400);
        assert_eq!(out["response"]["status"]["message"], "bad \"pod\"\n");
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
        let d = json(&denied(&env, 400, &e.to_string()));
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
        assert_eq!(
            decode(br#"{"request":[]}"#).unwrap_err().1,
            ReviewError::NoRequest
        );
        assert_eq!(
            decode(br#"{"request":{"uid":1,"object":{}}}"#)
                .unwrap_err()
                .1,
            ReviewError::NoUid
        );
        assert_eq!(decode(b"[1]").unwrap_err().1, ReviewError::NotObject);
        assert!(matches!(
            decode(br#"{"apiVersion":7}"#).unwrap_err().1,
            ReviewError::NoRequest
        ));
    }
}
