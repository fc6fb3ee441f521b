//! The request: action, resource, principal and condition context.

use crate::policy::PrincipalType;

/// The Fx hash (rustc's) of a lowercase condition key: keys are short and come from a
/// bounded set. A policy computes it for each condition key when it is parsed, so a decision
/// looks a key up without hashing it.
#[inline]
pub(crate) fn key_hash(lower: &str) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let add = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut h = add(0, lower.len() as u64);
    let mut chunks = lower.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        h = add(h, u64::from_le_bytes(b));
    }
    let mut b = [0u8; 8];
    for (d, x) in b.iter_mut().zip(chunks.remainder()) {
        *d = *x;
    }
    add(h, u64::from_le_bytes(b))
}

/// A key lowercased as the context stores it.
fn lower(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.to_lowercase()
    }
}

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

/// One key of a [`Context`].
#[derive(Debug, Clone)]
struct Entry {
    hash: u64,
    key: String,
    value: ContextValue,
}

/// No entry in an index slot.
const EMPTY: u32 = u32::MAX;

/// Condition context: keys are case-insensitive (stored lowercase), values case-preserving.
///
/// The keys are kept in insertion order with their [`key_hash`], indexed by an
/// open-addressing table (linear probing on the hash's top bits), so a lookup with a hash
/// computed at parse time costs a probe and one key comparison.
#[derive(Clone, Default)]
pub struct Context {
    entries: Vec<Entry>,
    /// Indexes into `entries`; a power of two in length, at least twice `entries` (empty
    /// while the context is).
    index: Vec<u32>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|e| (&e.key, &e.value)))
            .finish()
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|e| other.get_hashed(e.hash, &e.key) == Some(&e.value))
    }
}

impl Eq for Context {}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// The first index slot for `hash` (the table is non-empty).
    #[inline]
    fn home(&self, hash: u64) -> usize {
        let bits = self.index.len().trailing_zeros();
        (hash >> (64 - bits).min(63)) as usize & (self.index.len() - 1)
    }

    /// The position in `entries` of a lowercase key.
    #[inline]
    fn find(&self, hash: u64, key: &str) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut i = self.home(hash);
        loop {
            let slot = *self.index.get(i)?;
            if slot == EMPTY {
                return None;
            }
            let e = self.entries.get(slot as usize)?;
            if e.hash == hash && e.key == key {
                return Some(slot as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// Rebuilds the index for the current entries.
    fn reindex(&mut self) {
        let want = (self.entries.len() * 2).next_power_of_two().max(8);
        self.index.clear();
        self.index.resize(want, EMPTY);
        for n in 0..self.entries.len() {
            self.index_entry(n);
        }
    }

    /// Puts `entries[n]` in the index (which has a free slot).
    fn index_entry(&mut self, n: usize) {
        let Some(hash) = self.entries.get(n).map(|e| e.hash) else {
            return;
        };
        let mask = self.index.len() - 1;
        let mut i = self.home(hash);
        while let Some(slot) = self.index.get_mut(i) {
            if *slot == EMPTY {
                *slot = u32::try_from(n).unwrap_or(EMPTY);
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn put(&mut self, key: String, value: ContextValue) {
        let hash = key_hash(&key);
        if let Some(n) = self.find(hash, &key) {
            if let Some(e) = self.entries.get_mut(n) {
                e.value = value;
            }
            return;
        }
        self.entries.push(Entry { hash, key, value });
        if self.entries.len() * 2 > self.index.len() {
            self.reindex();
        } else {
            self.index_entry(self.entries.len() - 1);
        }
    }

    /// Sets a single-valued key (replacing any previous value).
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl Into<String>) -> &mut Context {
        self.put(lower(key.as_ref()), ContextValue::Single(value.into()));
        self
    }

    /// Sets a multivalued key (replacing any previous value).
    pub fn insert_multi<I, S>(&mut self, key: impl AsRef<str>, values: I) -> &mut Context
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let v = values.into_iter().map(Into::into).collect();
        self.put(lower(key.as_ref()), ContextValue::Multi(v));
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
        let key = lower(key);
        let n = self.find(key_hash(&key), &key)?;
        let e = self.entries.remove(n);
        self.reindex();
        Some(e.value)
    }

    /// Looks a key up, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii() {
            self.get_lower(&lower(key))
        } else {
            self.get_lower(key)
        }
    }

    /// Looks up an already-lowercased key.
    #[inline]
    pub(crate) fn get_lower(&self, key: &str) -> Option<&ContextValue> {
        self.get_hashed(key_hash(key), key)
    }

    /// Looks up an already-lowercased key whose [`key_hash`] is `hash`.
    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, key: &str) -> Option<&ContextValue> {
        let n = self.find(hash, key)?;
        self.entries.get(n).map(|e| &e.value)
    }

    /// The value of a single-valued (or one-element) key, for policy variables.
    pub(crate) fn get_single_lower(&self, key: &str) -> Option<&str> {
        match self.get_lower(key)? {
            ContextValue::Single(s) => Some(s),
            ContextValue::Multi(v) if v.len() == 1 => v.first().map(String::as_str),
            ContextValue::Multi(_) => None,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All keys (lowercase) and values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.iter().map(|e| (e.key.as_str(), &e.value))
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
    /// The kind of principal: a resource-policy entry matches the caller only when its type
    /// (`AWS`, `Federated`, `Service`, `CanonicalUser`) is the caller's. `None`: inferred from
    /// `principal` (see [`Request::effective_principal_type`]).
    pub principal_type: Option<PrincipalType>,
    /// The account owning the resource when the ARN doesn't say (S3 buckets). `None`: the
    /// ARN's account, or the principal's account when the ARN has none.
    pub resource_account: Option<String>,
    /// The IAM identity the calling session was made from: the role ARN of an assumed-role
    /// session (path included), or the ARN of the IAM user who created a federated user
    /// session. A resource-policy Allow naming it is limited by the boundary and session
    /// policies. `None`: for an assumed-role session, the role of the session's name in the
    /// session's account; for a federated user session, unknown (no grant to the user
    /// reaches the session).
    pub session_issuer: Option<String>,
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

    /// Sets the principal's type (otherwise inferred from the principal).
    #[must_use]
    pub fn with_principal_type(mut self, principal_type: PrincipalType) -> Request {
        self.principal_type = Some(principal_type);
        self
    }

    /// Sets the session issuer (see [`Request::session_issuer`]).
    #[must_use]
    pub fn with_session_issuer(mut self, issuer: impl Into<String>) -> Request {
        self.session_issuer = Some(issuer.into());
        self
    }

    /// Sets the context.
    #[must_use]
    pub fn with_context(mut self, context: Context) -> Request {
        self.context = context;
        self
    }

    /// The principal's type: [`Request::principal_type`] when set, else inferred from the
    /// principal with [`PrincipalType::infer`]; `None` for an anonymous caller.
    pub fn effective_principal_type(&self) -> Option<PrincipalType> {
        let principal = self.principal.as_deref()?;
        Some(
            self.principal_type
                .unwrap_or_else(|| PrincipalType::infer(principal)),
        )
    }
}

/// The web identity providers IAM knows by name (a `Federated` value without an ARN).
pub(crate) const WEB_IDENTITY_NAMES: &[&str] = &[
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "www.amazon.com",
    "graph.facebook.com",
];

impl PrincipalType {
    /// The type of a principal given without one:
    /// - `Federated`: an IAM OIDC or SAML provider ARN (`arn:*:iam::*:oidc-provider/*`,
    ///   `saml-provider/*`) or a web identity provider IAM knows by name
    ///   (`accounts.google.com`, `cognito-identity.amazonaws.com`, `www.amazon.com`,
    ///   `graph.facebook.com`);
    /// - `Service`: any other name with a dot that is not an ARN (`ec2.amazonaws.com`);
    /// - `CanonicalUser`: 64 hexadecimal digits (an S3 canonical user id);
    /// - `AWS` otherwise (account ids, user, role and session ARNs).
    pub fn infer(principal: &str) -> PrincipalType {
        PrincipalType::infer_split(principal, &crate::arn::split6(principal, false))
    }

    /// [`PrincipalType::infer`] with the principal already split by `split6`.
    pub(crate) fn infer_split(principal: &str, parts: &[Option<&str>; 6]) -> PrincipalType {
        if principal.starts_with("arn:") {
            let [_, _, service, _, _, resource] = *parts;
            let resource = resource.unwrap_or("");
            let provider =
                resource.starts_with("oidc-provider/") || resource.starts_with("saml-provider/");
            return if service == Some("iam") && provider {
                PrincipalType::Federated
            } else {
                PrincipalType::Aws
            };
        }
        if WEB_IDENTITY_NAMES.contains(&principal) {
            PrincipalType::Federated
        } else if principal.contains('.') {
            PrincipalType::Service
        } else if principal.len() == 64 && principal.bytes().all(|b| b.is_ascii_hexdigit()) {
            PrincipalType::CanonicalUser
        } else {
            PrincipalType::Aws
        }
    }
}

/// An unknown principal type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a principal type (AWS, Federated, Service, CanonicalUser)")]
pub struct UnknownPrincipalType(pub String);

impl std::str::FromStr for PrincipalType {
    type Err = UnknownPrincipalType;

    /// `AWS`, `Federated`, `Service` or `CanonicalUser` (as written in policies).
    fn from_str(s: &str) -> Result<PrincipalType, UnknownPrincipalType> {
        [
            PrincipalType::Aws,
            PrincipalType::Federated,
            PrincipalType::Service,
            PrincipalType::CanonicalUser,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| UnknownPrincipalType(s.to_owned()))
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

    #[test]
    fn principal_types_are_inferred() {
        use PrincipalType::*;
        for (p, t) in [
            (
                "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X",
                Federated,
            ),
            ("arn:aws-cn:iam::111122223333:saml-provider/corp", Federated),
            ("accounts.google.com", Federated),
            ("cognito-identity.amazonaws.com", Federated),
            ("www.amazon.com", Federated),
            ("graph.facebook.com", Federated),
            ("ec2.amazonaws.com", Service),
            ("cloudfront.amazonaws.com", Service),
            ("arn:aws:iam::111122223333:user/alice", Aws),
            ("arn:aws:sts::111122223333:assumed-role/app/s", Aws),
            ("arn:aws:iam::111122223333:role/oidc-provider/x", Aws),
            ("111122223333", Aws),
            (&"ab".repeat(32), CanonicalUser),
        ] {
            assert_eq!(PrincipalType::infer(p), t, "{p}");
            let r = Request::new("s3:GetObject", "*").with_principal(p);
            assert_eq!(r.effective_principal_type(), Some(t));
        }
        let r = Request::new("s3:GetObject", "*");
        assert_eq!(r.effective_principal_type(), None, "anonymous");
        let r = Request::new("s3:GetObject", "*")
            .with_principal("ec2.amazonaws.com")
            .with_principal_type(Aws);
        assert_eq!(r.effective_principal_type(), Some(Aws), "explicit wins");
        assert_eq!("Federated".parse::<PrincipalType>(), Ok(Federated));
        assert_eq!("AWS".parse::<PrincipalType>(), Ok(Aws));
        assert!("aws".parse::<PrincipalType>().is_err());
    }
}
