//! The request: action, resource, principal and condition context.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small, fast non-cryptographic hasher (the Fx hash used by rustc) for context keys:
/// keys are short and come from a bounded set, and SipHash dominated lookups.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        for &x in chunks.remainder() {
            self.add(u64::from(x));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// The value of one context key: a single value or a multivalued set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    /// A single-valued key (`aws:SourceIp`, `<issuer>:sub`).
    Single(String),
    /// A multivalued key (`aws:TagKeys`, `cognito-identity.amazonaws.com:amr`).
    Multi(Vec<String>),
}

impl ContextValue {
    /// The values as a slice (one element for `Single`).
    pub fn values(&self) -> &[String] {
        match self {
            ContextValue::Single(s) => std::slice::from_ref(s),
            ContextValue::Multi(v) => v,
        }
    }
}

/// Condition context: keys are case-insensitive (stored lowercase), values case-preserving.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    map: HashMap<String, ContextValue, FxBuild>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets a single-valued key (replacing any previous value).
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl Into<String>) -> &mut Context {
        self.map.insert(
            key.as_ref().to_lowercase(),
            ContextValue::Single(value.into()),
        );
        self
    }

    /// Sets a multivalued key (replacing any previous value).
    pub fn insert_multi<I, S>(&mut self, key: impl AsRef<str>, values: I) -> &mut Context
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let v = values.into_iter().map(Into::into).collect();
        self.map
            .insert(key.as_ref().to_lowercase(), ContextValue::Multi(v));
        self
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with(mut self, key: impl AsRef<str>, value: impl Into<String>) -> Context {
        self.insert(key, value);
        self
    }

    /// Builder form of [`Context::insert_multi`].
    #[must_use]
    pub fn with_multi<I, S>(mut self, key: impl AsRef<str>, values: I) -> Context
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insert_multi(key, values);
        self
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) -> Option<ContextValue> {
        self.map.remove(&key.to_lowercase())
    }

    /// Looks a key up, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii() {
            self.map.get(&key.to_lowercase())
        } else {
            self.map.get(key)
        }
    }

    /// Looks up an already-lowercased key.
    #[inline]
    pub(crate) fn get_lower(&self, key: &str) -> Option<&ContextValue> {
        self.map.get(key)
    }

    /// The value of a single-valued (or one-element) key, for policy variables.
    pub(crate) fn get_single_lower(&self, key: &str) -> Option<&str> {
        match self.map.get(key)? {
            ContextValue::Single(s) => Some(s),
            ContextValue::Multi(v) if v.len() == 1 => v.first().map(String::as_str),
            ContextValue::Multi(_) => None,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All keys (lowercase) and values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// An authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `service:Action`, e.g. `s3:GetObject` (case-insensitive).
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// The calling principal: an IAM user/role/assumed-role ARN, an OIDC/SAML provider ARN,
    /// a web identity provider name (`accounts.google.com`) or a service principal.
    /// `None` is an anonymous caller.
    pub principal: Option<String>,
    /// The account owning the resource when the ARN doesn't say (S3 buckets). `None`: the
    /// ARN's account, or the principal's account when the ARN has none.
    pub resource_account: Option<String>,
    /// Condition keys.
    pub context: Context,
}

impl Request {
    /// A request for `action` on `resource` with no principal and an empty context.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Request {
        Request {
            action: action.into(),
            resource: resource.into(),
            ..Request::default()
        }
    }

    /// Sets the principal.
    #[must_use]
    pub fn with_principal(mut self, principal: impl Into<String>) -> Request {
        self.principal = Some(principal.into());
        self
    }

    /// Sets the context.
    #[must_use]
    pub fn with_context(mut self, context: Context) -> Request {
        self.context = context;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let ctx = Context::new()
            .with("AWS:SourceIp", "10.0.0.1")
            .with_multi("aws:TagKeys", ["a", "b"]);
        assert_eq!(
            ctx.get("aws:sourceip"),
            Some(&ContextValue::Single("10.0.0.1".into()))
        );
        assert_eq!(ctx.get("AWS:TAGKEYS").map(|v| v.values().len()), Some(2));
        assert_eq!(ctx.get_single_lower("aws:tagkeys"), None);
        assert_eq!(ctx.len(), 2);
    }
}
