//! Stateless STS credentials: access key ids, derived secret keys, sealed session tokens.
//!
//! Nothing is stored between requests, so any replica holding the same
//! [`KeyRing`] can serve any caller:
//!
//! * the access key id is `ASIA` followed by 16 random base32 characters
//!   (`A-Z2-7`, 80 bits);
//! * the secret access key is derived:
//!   `base64(HMAC-SHA256(K_secret, access_key_id))[..40]`, where `K_secret` is
//!   derived from the master key that sealed the session token;
//! * the session token is an AES-256-GCM sealed [`SessionClaims`] blob that names
//!   the master key that sealed it, so tokens sealed by an older key of the ring
//!   still open after a rotation.
//!
//! Session token layout (then standard base64 with padding):
//!
//! ```text
//! 0        1            9                    29          41
//! | ver=1  | key id (8) | access key id (20) | nonce (12) | AES-256-GCM(claims JSON) + tag (16) |
//! ```
//!
//! Bytes 0..29 are the associated data, so the version, key id and access key
//! id are authenticated; the access key id is readable so that a token used
//! with the wrong access key id is reported as such before any decryption.
//!
//! Sub-keys are derived from each 32-byte master key with HMAC-SHA256 and a
//! distinct label: the sealing key, the secret-derivation key and the 8-byte
//! public key id. Nonces are 96 random bits from the caller's RNG; with random
//! nonces one master key should seal fewer than 2^32 tokens, far beyond what a
//! rotation period issues.
//!
//! No time is read and no file is opened here: `now` and key file contents come
//! in as arguments.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Length of a master key in bytes.
pub(crate) const MASTER_KEY_LEN: usize = 32;
/// Length of a key id in bytes (shown as 16 hex characters).
pub(crate) const KEY_ID_LEN: usize = 8;
/// Length of an access key id: `ASIA` + 16 base32 characters.
pub(crate) const ACCESS_KEY_ID_LEN: usize = 20;
/// Length of a secret access key.
pub const SECRET_ACCESS_KEY_LEN: usize = 40;
/// Prefix of temporary (STS) access key ids.
pub(crate) const ACCESS_KEY_ID_PREFIX: &str = "ASIA";
/// Longest session token, in characters: [`issue`] never produces a longer one and
/// [`open`] rejects longer ones as malformed (one limit for both, so every issued token
/// opens).
pub const MAX_SESSION_TOKEN_LEN: usize = 16 * 1024;

const TOKEN_VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const AAD_LEN: usize = 1 + KEY_ID_LEN + ACCESS_KEY_ID_LEN;
const HEADER_LEN: usize = AAD_LEN + NONCE_LEN;

const LABEL_KEY_ID: &[u8] = b"irsa-sts/v1/key-id";
const LABEL_SEAL: &[u8] = b"irsa-sts/v1/session-token";
const LABEL_SECRET: &[u8] = b"irsa-sts/v1/secret-access-key";

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Why credentials could not be issued or opened. `Display` is a precise
/// lowercase explanation for logs; the AWS error a server answers with comes
/// from the protocol's error type (`StsError::from(&CredError)`: `ExpiredToken`
/// for an expired session, `InvalidClientTokenId` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredError {
    /// Master key file contents are not 32 raw bytes, 64 hex characters or
    /// base64 of 32 bytes, or the key is all zeros.
    #[error("invalid master key: {0}")]
    InvalidMasterKey(&'static str),
    /// Two keys of a key ring share a key id (the same key twice).
    #[error("key ring holds key `{0}` twice")]
    DuplicateKey(KeyId),
    /// Claims that cannot be issued (expiry not after issue time).
    #[error("invalid session claims: {0}")]
    InvalidClaims(&'static str),
    /// The sealed session token would be longer than [`MAX_SESSION_TOKEN_LEN`], so
    /// [`open`] would reject it: nothing is issued.
    #[error("session token would be {len} characters, over the limit of {MAX_SESSION_TOKEN_LEN}")]
    TokenTooLarge {
        /// Length the encoded token would have.
        len: usize,
    },
    /// The session token is not one of ours: bad base64, length or version.
    #[error("session token is malformed")]
    MalformedToken,
    /// The access key id is not an `ASIA` key id of our format.
    #[error("access key id `{0}` is malformed")]
    MalformedAccessKeyId(String),
    /// The token names a key id that is not in the ring (rotated out, or
    /// another deployment's token).
    #[error("session token was sealed with unknown key `{0}`")]
    UnknownKey(KeyId),
    /// The token belongs to another access key id.
    #[error("session token does not belong to access key `{0}`")]
    AccessKeyMismatch(String),
    /// Authentication of the sealed blob failed: tampered, or sealed by a
    /// different key with the same id.
    #[error("session token failed authentication")]
    TamperedToken,
    /// The token authenticated but is past its expiry (unix seconds).
    #[error("session token expired at {expired_at}")]
    Expired {
        /// The session's `expires_at`.
        expired_at: i64,
    },
}

/// Public identifier of a master key: the first 8 bytes of
/// HMAC-SHA256(key, "irsa-sts/v1/key-id"), shown as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte server master key and the sub-keys derived from it. `Debug` shows
/// only the key id.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    bytes: [u8; MASTER_KEY_LEN],
    /// The keys derived from it, computed once (the AES key schedule and HMAC pads would
    /// otherwise be redone for every session issued or opened).
    derived: std::sync::Arc<Derived>,
}

/// Keys derived from a master key.
struct Derived {
    /// AES-256-GCM key sealing session tokens (`HMAC(master, LABEL_SEAL)`).
    seal: LessSafeKey,
    /// HMAC key deriving secret access keys (`HMAC(master, LABEL_SECRET)`).
    secret: hmac::Key,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

impl MasterKey {
    /// A master key from its 32 bytes. All-zero keys are refused.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Result<Self, CredError> {
        if bytes.iter().all(|&b| b == 0) {
            return Err(CredError::InvalidMasterKey("the key is all zeros"));
        }
        let digest = hmac_sha256(&bytes, LABEL_KEY_ID);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(digest.get(..KEY_ID_LEN).unwrap_or(&[0; KEY_ID_LEN]));
        let seal = UnboundKey::new(&AES_256_GCM, &hmac_sha256(&bytes, LABEL_SEAL))
            .map(LessSafeKey::new)
            .map_err(|_| CredError::InvalidMasterKey("cannot derive the sealing key"))?;
        let secret = hmac::Key::new(hmac::HMAC_SHA256, &hmac_sha256(&bytes, LABEL_SECRET));
        Ok(Self {
            id: KeyId(id),
            bytes,
            derived: std::sync::Arc::new(Derived { seal, secret }),
        })
    }

    /// A master key from the contents of a key file, accepted in three forms:
    ///
    /// 1. exactly 32 bytes: the raw key (no trimming);
    /// 2. 64 hex digits (either case), surrounding whitespace ignored;
    /// 3. base64 of 32 bytes, standard or URL-safe alphabet, padded or not,
    ///    surrounding whitespace ignored (`openssl rand -base64 32`).
    pub fn from_file_contents(contents: &[u8]) -> Result<Self, CredError> {
        const FORMS: &str = "expected 32 raw bytes, 64 hex characters or base64 of 32 bytes";
        if let Ok(raw) = <[u8; MASTER_KEY_LEN]>::try_from(contents) {
            return Self::from_bytes(raw);
        }
        let text = std::str::from_utf8(contents)
            .map_err(|_| CredError::InvalidMasterKey(FORMS))?
            .trim();
        if text.len() == 2 * MASTER_KEY_LEN {
            // Constant time: the text is the secret key.
            let mut bytes = [0u8; MASTER_KEY_LEN];
            if base16ct::mixed::decode(text, &mut bytes).is_ok() {
                return Self::from_bytes(bytes);
            }
        }
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(decoded) = engine.decode(text) {
                return match <[u8; MASTER_KEY_LEN]>::try_from(decoded.as_slice()) {
                    Ok(raw) => Self::from_bytes(raw),
                    Err(_) => Err(CredError::InvalidMasterKey(FORMS)),
                };
            }
        }
        Err(CredError::InvalidMasterKey(FORMS))
    }

    /// A new random master key (for `keygen`-style commands).
    pub fn generate(rng: &mut impl RngCore) -> Self {
        loop {
            let mut bytes = [0u8; MASTER_KEY_LEN];
            rng.fill_bytes(&mut bytes);
            if let Ok(key) = Self::from_bytes(bytes) {
                return key;
            }
        }
    }

    /// The key as 64 lower-case hex digits, the form [`MasterKey::from_file_contents`]
    /// reads back. This is secret material: write it to a file, never to a log.
    pub fn to_hex(&self) -> String {
        // Constant time: the key is secret.
        base16ct::lower::encode_string(&self.bytes)
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    fn seal_key(&self) -> Result<&LessSafeKey, CredError> {
        Ok(&self.derived.seal)
    }

    fn secret_for(&self, access_key_id: &str) -> String {
        let mac = hmac::sign(&self.derived.secret, access_key_id.as_bytes());
        // 30 bytes encode to exactly 40 base64 characters, no padding.
        STANDARD.encode(mac.as_ref().get(..30).unwrap_or(mac.as_ref()))
    }
}

/// A configuration's signing keys that do not make a key ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct KeyFileError {
    /// The configuration entry at fault (`signingKeys[1].file`).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The master keys a replica knows: the active one seals new tokens; all of
/// them open tokens.
#[derive(Debug, Clone)]
pub struct KeyRing {
    active: MasterKey,
    others: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring with `active` sealing new tokens and `others` (older or newer
    /// keys during a rotation) still opening them. Fails when a key appears twice.
    pub fn new(active: MasterKey, others: Vec<MasterKey>) -> Result<Self, CredError> {
        let mut seen = vec![active.id];
        for key in &others {
            if seen.contains(&key.id) {
                return Err(CredError::DuplicateKey(key.id));
            }
            seen.push(key.id);
        }
        Ok(Self { active, others })
    }

    /// The ring named by a configuration's `signingKeys`, from the contents of its key
    /// files in order (the first signs; all open). An error names the entry at fault as
    /// `signingKeys[i].file` or `signingKeys`.
    pub fn from_key_files(contents: &[Vec<u8>]) -> Result<Self, KeyFileError> {
        let mut masters = Vec::with_capacity(contents.len());
        for (i, bytes) in contents.iter().enumerate() {
            masters.push(
                MasterKey::from_file_contents(bytes).map_err(|e| KeyFileError {
                    field: format!("signingKeys[{i}].file"),
                    reason: e.to_string(),
                })?,
            );
        }
        let mut it = masters.into_iter();
        let Some(active) = it.next() else {
            return Err(KeyFileError {
                field: "signingKeys".into(),
                reason: "no signing key is configured".into(),
            });
        };
        Self::new(active, it.collect()).map_err(|e| KeyFileError {
            field: "signingKeys".into(),
            reason: e.to_string(),
        })
    }

    /// A ring of one key.
    pub fn single(active: MasterKey) -> Self {
        Self {
            active,
            others: Vec::new(),
        }
    }

    /// The key that seals new tokens.
    pub fn active(&self) -> &MasterKey {
        &self.active
    }

    /// All keys, active first.
    pub fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.active).chain(self.others.iter())
    }

    fn find(&self, id: &KeyId) -> Option<&MasterKey> {
        self.keys().find(|k| k.id == *id)
    }
}

/// A session tag (`https://aws.amazon.com/tags` principal tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTag {
    /// Tag key.
    #[serde(rename = "k")]
    pub key: String,
    /// Tag value.
    #[serde(rename = "v")]
    pub value: String,
}

/// Everything a session token carries. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The assumed role, `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    #[serde(rename = "r")]
    pub role_arn: String,
    /// The role's unique id, `AROA…`.
    #[serde(rename = "ri")]
    pub role_id: String,
    /// `RoleSessionName`.
    #[serde(rename = "sn")]
    pub session_name: String,
    /// The web identity token's `sub`.
    #[serde(rename = "s")]
    pub subject: String,
    /// The audience that matched one of the provider's client ids.
    #[serde(rename = "a")]
    pub audience: String,
    /// The IAM OIDC provider ARN.
    #[serde(rename = "p")]
    pub provider_arn: String,
    /// When the credentials were issued.
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// When the credentials expire.
    #[serde(rename = "exp")]
    pub expires_at: i64,
    /// The inline session policy (`Policy`), as sent.
    #[serde(rename = "pol", default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs (`PolicyArns`).
    #[serde(rename = "pa", default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// `SourceIdentity`.
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Session tags.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SessionTag>,
    /// Keys of the transitive session tags.
    #[serde(rename = "tt", default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
}

/// Issued temporary credentials. `Debug` hides the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `ASIA` + 16 base32 characters.
    pub access_key_id: String,
    /// 40 characters of the base64 alphabet.
    pub secret_access_key: String,
    /// The sealed session token (standard base64).
    pub session_token: String,
    /// Expiry, unix seconds (the claims' `expires_at`).
    pub expiration: i64,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A session token that opened: its claims and the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// The claims sealed in the token.
    pub claims: SessionClaims,
    /// The master key that sealed it (and from which its secret is derived).
    pub key_id: KeyId,
    /// The access key id the token is bound to.
    pub access_key_id: String,
}

/// A new random access key id: `ASIA` + 16 characters of `A-Z2-7`.
pub(crate) fn generate_access_key_id(rng: &mut impl RngCore) -> String {
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    let mut out = String::with_capacity(ACCESS_KEY_ID_LEN);
    out.push_str(ACCESS_KEY_ID_PREFIX);
    // 10 bytes = 80 bits = 16 groups of 5 bits.
    let bits = random
        .iter()
        .fold(0u128, |acc, &b| acc << 8 | u128::from(b));
    for i in (0..16).rev() {
        let index = usize::try_from((bits >> (i * 5)) & 0x1f).unwrap_or(0);
        out.push(char::from(*BASE32_ALPHABET.get(index).unwrap_or(&b'A')));
    }
    out
}

/// Whether `s` has the shape of an access key id [`issue`] produces.
pub fn is_access_key_id(s: &str) -> bool {
    s.len() == ACCESS_KEY_ID_LEN
        && s.starts_with(ACCESS_KEY_ID_PREFIX)
        && s.bytes()
            .skip(ACCESS_KEY_ID_PREFIX.len())
            .all(|b| BASE32_ALPHABET.contains(&b))
}

/// Length of the encoded session token that seals `claims_json_len` bytes of claims
/// JSON: header, ciphertext and tag, in standard base64 with padding.
pub(crate) const fn sealed_token_len(claims_json_len: usize) -> usize {
    (HEADER_LEN + claims_json_len + TAG_LEN).div_ceil(3) * 4
}

/// Issues credentials for `claims`: a fresh access key id, its derived secret,
/// and a session token sealed with the ring's active key. Fails with
/// [`CredError::TokenTooLarge`] rather than issue a token longer than
/// [`MAX_SESSION_TOKEN_LEN`], which [`open`] would reject.
pub fn issue(
    ring: &KeyRing,
    claims: &SessionClaims,
    rng: &mut impl RngCore,
) -> Result<Credentials, CredError> {
    if claims.expires_at <= claims.issued_at {
        return Err(CredError::InvalidClaims(
            "expires_at must be after issued_at",
        ));
    }
    let mut sealed = serde_json::to_vec(claims)
        .map_err(|_| CredError::InvalidClaims("claims cannot be serialized"))?;
    let len = sealed_token_len(sealed.len());
    if len > MAX_SESSION_TOKEN_LEN {
        return Err(CredError::TokenTooLarge { len });
    }
    let key = ring.active();
    let access_key_id = generate_access_key_id(rng);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);

    let mut token = Vec::with_capacity(HEADER_LEN + 256);
    token.push(TOKEN_VERSION);
    token.extend_from_slice(key.id.as_bytes());
    token.extend_from_slice(access_key_id.as_bytes());
    token.extend_from_slice(&nonce);

    let aad = token.get(..AAD_LEN).ok_or(CredError::MalformedToken)?;
    key.seal_key()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed,
        )
        .map_err(|_| CredError::InvalidClaims("claims cannot be sealed"))?;
    token.extend_from_slice(&sealed);
    let session_token = STANDARD.encode(&token);
    // `sealed_token_len` is exact; this guards the invariant `open` relies on.
    if session_token.len() > MAX_SESSION_TOKEN_LEN {
        return Err(CredError::TokenTooLarge {
            len: session_token.len(),
        });
    }

    Ok(Credentials {
        secret_access_key: key.secret_for(&access_key_id),
        access_key_id,
        session_token,
        expiration: claims.expires_at,
    })
}

/// Opens `session_token` presented with `access_key_id` at time `now` (unix
/// seconds). Fails closed, with a distinct error for a malformed token, an
/// unknown key, a token of another access key, a tampered token and an expired
/// session (a session is expired when `now >= expires_at`).
pub fn open(
    ring: &KeyRing,
    session_token: &str,
    access_key_id: &str,
    now: i64,
) -> Result<OpenedSession, CredError> {
    if session_token.len() > MAX_SESSION_TOKEN_LEN {
        return Err(CredError::MalformedToken);
    }
    let raw = STANDARD
        .decode(session_token.trim())
        .map_err(|_| CredError::MalformedToken)?;
    if raw.len() < HEADER_LEN + TAG_LEN || raw.first() != Some(&TOKEN_VERSION) {
        return Err(CredError::MalformedToken);
    }
    let (header, ciphertext) = raw.split_at(HEADER_LEN);
    let (aad, nonce) = header.split_at(AAD_LEN);
    let key_id_bytes = aad
        .get(1..1 + KEY_ID_LEN)
        .ok_or(CredError::MalformedToken)?;
    let token_akid = aad.get(1 + KEY_ID_LEN..).ok_or(CredError::MalformedToken)?;

    if !is_access_key_id(access_key_id) {
        return Err(CredError::MalformedAccessKeyId(access_key_id.to_owned()));
    }
    if token_akid != access_key_id.as_bytes() {
        return Err(CredError::AccessKeyMismatch(access_key_id.to_owned()));
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(key_id_bytes);
    let key_id = KeyId(id);
    let key = ring.find(&key_id).ok_or(CredError::UnknownKey(key_id))?;

    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CredError::MalformedToken)?;
    let mut in_out = ciphertext.to_vec();
    let plaintext = key
        .seal_key()?
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| CredError::TamperedToken)?;
    // Authenticated data that does not parse was not sealed by `issue`: treat
    // it as tampering rather than trusting any part of it.
    let claims: SessionClaims =
        serde_json::from_slice(plaintext).map_err(|_| CredError::TamperedToken)?;
    if now >= claims.expires_at {
        return Err(CredError::Expired {
            expired_at: claims.expires_at,
        });
    }
    Ok(OpenedSession {
        claims,
        key_id,
        access_key_id: access_key_id.to_owned(),
    })
}

/// Re-derives the secret access key of an opened session, for SigV4
/// verification of requests signed with `access_key_id`.
pub fn secret_for(
    ring: &KeyRing,
    access_key_id: &str,
    session: &OpenedSession,
) -> Result<String, CredError> {
    if session.access_key_id != access_key_id {
        return Err(CredError::AccessKeyMismatch(access_key_id.to_owned()));
    }
    let key = ring
        .find(&session.key_id)
        .ok_or(CredError::UnknownKey(session.key_id))?;
    Ok(key.secret_for(access_key_id))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::StsError;

    #[test]
    fn key_ring_from_key_files_names_the_entry_at_fault() {
        let a = "11".repeat(32).into_bytes();
        let b = "22".repeat(32).into_bytes();
        let ring = KeyRing::from_key_files(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            ring.active().id(),
            MasterKey::from_file_contents(&a).unwrap().id()
        );
        assert_eq!(ring.keys().count(), 2);
        let e = KeyRing::from_key_files(&[a.clone(), b"short".to_vec()]).unwrap_err();
        assert_eq!(e.field, "signingKeys[1].file");
        assert_eq!(
            KeyRing::from_key_files(&[]).unwrap_err().field,
            "signingKeys"
        );
        let e = KeyRing::from_key_files(&[a.clone(), a]).unwrap_err();
        assert_eq!(e.field, "signingKeys", "{e}");
    }
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const NOW: i64 = 1_700_000_000;

    fn key(seed: u8) -> MasterKey {
        MasterKey::from_bytes([seed; 32]).unwrap()
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            role_arn: "arn:aws:iam::123456789012:role/path/app".into(),
            role_id: "AROA2AVYNEVMZEZ2AFVYI".into(),
            session_name: "botocore-session-1".into(),
            subject: "system:serviceaccount:default:app".into(),
            audience: "sts.amazonaws.com".into(),
            provider_arn: "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/X".into(),
            issued_at: NOW,
            expires_at: NOW + 3600,
            session_policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            source_identity: Some("alice".into()),
            tags: vec![SessionTag {
                key: "team".into(),
                value: "blue".into(),
            }],
            transitive_tag_keys: vec!["team".into()],
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn raw(token: &str) -> Vec<u8> {
        STANDARD.decode(token).unwrap()
    }

    #[test]
    fn round_trip() {
        let ring = KeyRing::single(key(1));
        let creds = issue(&ring, &claims(), &mut rng()).unwrap();
        let opened = open(&ring, &creds.session_token, &creds.access_key_id, NOW).unwrap();
        assert_eq!(opened.claims, claims());
        assert_eq!(opened.key_id, ring.active().id());
        assert_eq!(creds.expiration, NOW + 3600);
        assert_eq!(
            secret_for(&ring, &creds.access_key_id, &opened).unwrap(),
            creds.secret_access_key
        );
    }

    #[test]
    fn minimal_claims_round_trip() {
        let ring = KeyRing::single(key(1));
        let mut c = claims();
        c.session_policy = None;
        c.policy_arns.clear();
        c.source_identity = None;
        c.tags.clear();
        c.transitive_tag_keys.clear();
        let creds = issue(&ring, &c, &mut rng()).unwrap();
        let opened = open(&ring, &creds.session_token, &creds.access_key_id, NOW).unwrap();
        assert_eq!(opened.claims, c);
    }

    #[test]
    fn identifier_formats() {
        let ring = KeyRing::single(key(1));
        let mut r = rng();
        for _ in 0..200 {
            let creds = issue(&ring, &claims(), &mut r).unwrap();
            let akid = &creds.access_key_id;
            assert_eq!(akid.len(), 20);
            assert!(akid.starts_with("ASIA"));
            assert!(
                akid[4..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            );
            assert!(is_access_key_id(akid));
            let secret = &creds.secret_access_key;
            assert_eq!(secret.len(), 40);
            assert!(
                secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            );
            assert!(STANDARD.decode(&creds.session_token).is_ok());
        }
        assert!(!is_access_key_id("AKIA2AVYNEVM4ZT5P2UW"));
        assert!(!is_access_key_id("ASIA2AVYNEVM4ZT5P2U1"));
        assert!(!is_access_key_id("ASIA2AVYNEVM4ZT5P2U"));
    }

    #[test]
    fn base32_uses_all_80_bits() {
        struct Fixed(u8);
        impl RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                0
            }
            fn next_u64(&mut self) -> u64 {
                0
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                dest.fill(self.0);
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
                dest.fill(self.0);
                Ok(())
            }
        }
        assert_eq!(
            generate_access_key_id(&mut Fixed(0)),
            "ASIAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            generate_access_key_id(&mut Fixed(0xff)),
            "ASIA7777777777777777"
        );
        // RFC 4648 base32 of ten 0x44 bytes (Python: base64.b32encode(b"\x44" * 10)).
        assert_eq!(
            generate_access_key_id(&mut Fixed(0x44)),
            "ASIAIRCEIRCEIRCEIRCE"
        );
    }

    #[test]
    fn fresh_ids_and_nonces_each_time() {
        let ring = KeyRing::single(key(1));
        let mut r = rng();
        let a = issue(&ring, &claims(), &mut r).unwrap();
        let b = issue(&ring, &claims(), &mut r).unwrap();
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert_ne!(raw(&a.session_token)[29..41], raw(&b.session_token)[29..41]);
    }

    #[test]
    fn tampering_any_byte_fails() {
        let ring = KeyRing::single(key(1));
        let creds = issue(&ring, &claims(), &mut rng()).unwrap();
        let bytes = raw(&creds.session_token);
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            let err = open(&ring, &STANDARD.encode(&t), &creds.access_key_id, NOW).unwrap_err();
            let expected_region = match i {
                0 => matches!(err, CredError::MalformedToken),
                1..=8 => matches!(err, CredError::UnknownKey(_)),
                9..=28 => matches!(err, CredError::AccessKeyMismatch(_)),
                _ => matches!(err, CredError::TamperedToken),
            };
            assert!(expected_region, "byte {i}: {err:?}");
        }
        // Truncated and extended tokens.
        for t in [
            &bytes[..bytes.len() - 1],
            &bytes[..HEADER_LEN + TAG_LEN - 1],
        ] {
            let err = open(&ring, &STANDARD.encode(t), &creds.access_key_id, NOW).unwrap_err();
            assert!(
                matches!(err, CredError::TamperedToken | CredError::MalformedToken),
                "{err:?}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = open(&ring, &STANDARD.encode(&longer), &creds.access_key_id, NOW).unwrap_err();
        assert_eq!(err, CredError::TamperedToken);
    }

    #[test]
    fn tampered_access_key_in_both_header_and_argument_fails_authentication() {
        let ring = KeyRing::single(key(1));
        let creds = issue(&ring, &claims(), &mut rng()).unwrap();
        let mut bytes = raw(&creds.session_token);
        let other = "ASIAAAAAAAAAAAAAAAAA";
        bytes[9..29].copy_from_slice(other.as_bytes());
        let err = open(&ring, &STANDARD.encode(&bytes), other, NOW).unwrap_err();
        assert_eq!(err, CredError::TamperedToken);
    }

    /// Claims whose JSON is exactly `n` bytes, padded through the subject.
    fn claims_of_json_len(n: usize) -> SessionClaims {
        let mut c = claims();
        c.subject.clear();
        let base = serde_json::to_vec(&c).unwrap().len();
        c.subject = "s".repeat(n - base);
        assert_eq!(serde_json::to_vec(&c).unwrap().len(), n);
        c
    }

    #[test]
    fn issue_never_produces_a_token_open_rejects() {
        let ring = KeyRing::single(key(1));
        // The largest claims that fit: the token is exactly at the limit and opens.
        let fit = (MAX_SESSION_TOKEN_LEN / 4) * 3 - HEADER_LEN - TAG_LEN;
        assert_eq!(sealed_token_len(fit), MAX_SESSION_TOKEN_LEN);
        let c = claims_of_json_len(fit);
        let creds = issue(&ring, &c, &mut rng()).unwrap();
        assert_eq!(creds.session_token.len(), MAX_SESSION_TOKEN_LEN);
        let opened = open(&ring, &creds.session_token, &creds.access_key_id, NOW).unwrap();
        assert_eq!(opened.claims, c);
        // One byte more: an error, not a token `open` would call malformed.
        for n in [fit + 1, fit + 3, 3 * MAX_SESSION_TOKEN_LEN] {
            let err = issue(&ring, &claims_of_json_len(n), &mut rng()).unwrap_err();
            assert_eq!(
                err,
                CredError::TokenTooLarge {
                    len: sealed_token_len(n)
                }
            );
            assert!(sealed_token_len(n) > MAX_SESSION_TOKEN_LEN);
            assert_eq!(StsError::from(&err).code(), "InvalidClientTokenId");
        }
    }

    #[test]
    fn sealed_token_len_is_exact() {
        let ring = KeyRing::single(key(1));
        for n in 0..6 {
            let mut c = claims();
            c.subject.push_str(&"x".repeat(n));
            let json = serde_json::to_vec(&c).unwrap().len();
            let creds = issue(&ring, &c, &mut rng()).unwrap();
            assert_eq!(creds.session_token.len(), sealed_token_len(json));
        }
    }

    #[test]
    fn malformed_tokens() {
        let ring = KeyRing::single(key(1));
        let akid = "ASIAAAAAAAAAAAAAAAAA";
        for token in [
            "",
            "not base64!",
            "AAAA",
            &"A".repeat(MAX_SESSION_TOKEN_LEN + 4),
        ] {
            assert_eq!(
                open(&ring, token, akid, NOW).unwrap_err(),
                CredError::MalformedToken
            );
        }
        let mut v2 = vec![2u8];
        v2.extend_from_slice(&[0; 80]);
        assert_eq!(
            open(&ring, &STANDARD.encode(&v2), akid, NOW).unwrap_err(),
            CredError::MalformedToken
        );
    }

    #[test]
    fn wrong_access_key_id() {
        let ring = KeyRing::single(key(1));
        let mut r = rng();
        let a = issue(&ring, &claims(), &mut r).unwrap();
        let b = issue(&ring, &claims(), &mut r).unwrap();
        assert_eq!(
            open(&ring, &a.session_token, &b.access_key_id, NOW).unwrap_err(),
            CredError::AccessKeyMismatch(b.access_key_id.clone())
        );
        assert!(matches!(
            open(&ring, &a.session_token, "AKIAIOSFODNN7EXAMPLE", NOW).unwrap_err(),
            CredError::MalformedAccessKeyId(_)
        ));
        let opened = open(&ring, &a.session_token, &a.access_key_id, NOW).unwrap();
        assert!(matches!(
            secret_for(&ring, &b.access_key_id, &opened).unwrap_err(),
            CredError::AccessKeyMismatch(_)
        ));
    }

    #[test]
    fn wrong_key_and_same_id_different_key() {
        let issuer = KeyRing::single(key(1));
        let creds = issue(&issuer, &claims(), &mut rng()).unwrap();
        let other = KeyRing::single(key(2));
        assert_eq!(
            open(&other, &creds.session_token, &creds.access_key_id, NOW).unwrap_err(),
            CredError::UnknownKey(key(1).id())
        );
        // A token claiming key 2's id but sealed by key 1 fails authentication.
        let mut bytes = raw(&creds.session_token);
        bytes[1..9].copy_from_slice(key(2).id().as_bytes());
        assert_eq!(
            open(&other, &STANDARD.encode(&bytes), &creds.access_key_id, NOW).unwrap_err(),
            CredError::TamperedToken
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_working() {
        let old = KeyRing::single(key(1));
        let creds = issue(&old, &claims(), &mut rng()).unwrap();
        let rotated = KeyRing::new(key(2), vec![key(1)]).unwrap();
        let opened = open(&rotated, &creds.session_token, &creds.access_key_id, NOW).unwrap();
        assert_eq!(opened.key_id, key(1).id());
        assert_eq!(
            secret_for(&rotated, &creds.access_key_id, &opened).unwrap(),
            creds.secret_access_key
        );
        // New tokens use the new key; the old ring (pre-rotation replica) does
        // not know it until it gets the new key as a non-active member.
        let new = issue(&rotated, &claims(), &mut rng()).unwrap();
        assert_eq!(raw(&new.session_token)[1..9], *key(2).id().as_bytes());
        assert!(matches!(
            open(&old, &new.session_token, &new.access_key_id, NOW).unwrap_err(),
            CredError::UnknownKey(_)
        ));
        let pre_staged = KeyRing::new(key(1), vec![key(2)]).unwrap();
        assert!(open(&pre_staged, &new.session_token, &new.access_key_id, NOW).is_ok());
        // Once the old key leaves the ring its tokens stop opening.
        let retired = KeyRing::single(key(2));
        assert!(matches!(
            open(&retired, &creds.session_token, &creds.access_key_id, NOW).unwrap_err(),
            CredError::UnknownKey(_)
        ));
    }

    #[test]
    fn duplicate_keys_rejected() {
        assert_eq!(
            KeyRing::new(key(1), vec![key(2), key(1)]).unwrap_err(),
            CredError::DuplicateKey(key(1).id())
        );
    }

    #[test]
    fn expiry() {
        let ring = KeyRing::single(key(1));
        let creds = issue(&ring, &claims(), &mut rng()).unwrap();
        let exp = NOW + 3600;
        assert!(open(&ring, &creds.session_token, &creds.access_key_id, exp - 1).is_ok());
        let err = open(&ring, &creds.session_token, &creds.access_key_id, exp).unwrap_err();
        assert_eq!(err, CredError::Expired { expired_at: exp });
        assert_eq!(StsError::from(&err).code(), "ExpiredToken");
        assert_eq!(
            StsError::from(CredError::TamperedToken).code(),
            "InvalidClientTokenId"
        );
        let mut bad = claims();
        bad.expires_at = bad.issued_at;
        assert!(matches!(
            issue(&ring, &bad, &mut rng()).unwrap_err(),
            CredError::InvalidClaims(_)
        ));
    }

    #[test]
    fn secret_never_in_token() {
        let ring = KeyRing::single(key(1));
        let mut r = rng();
        for _ in 0..50 {
            let creds = issue(&ring, &claims(), &mut r).unwrap();
            assert!(!creds.session_token.contains(&creds.secret_access_key));
            let token = raw(&creds.session_token);
            let secret_bytes = STANDARD.decode(&creds.secret_access_key).unwrap();
            assert!(!token.windows(secret_bytes.len()).any(|w| w == secret_bytes));
            assert!(!token.windows(8).any(|w| w == &secret_bytes[..8]));
            assert!(
                !token
                    .windows(40)
                    .any(|w| w == creds.secret_access_key.as_bytes())
            );
            // Nor is the plaintext visible.
            assert!(!token.windows(7).any(|w| w == b"app\",\"r"));
            assert!(!token.windows(17).any(|w| w == b"sts.amazonaws.com"));
            let debug = format!("{creds:?}");
            assert!(!debug.contains(&creds.secret_access_key));
            assert!(!debug.contains(&creds.session_token));
        }
    }

    #[test]
    fn secret_depends_on_key_and_access_key_id() {
        let a = key(1);
        let b = key(2);
        assert_ne!(
            a.secret_for("ASIAAAAAAAAAAAAAAAAA"),
            b.secret_for("ASIAAAAAAAAAAAAAAAAA")
        );
        assert_ne!(
            a.secret_for("ASIAAAAAAAAAAAAAAAAA"),
            a.secret_for("ASIAAAAAAAAAAAAAAAAB")
        );
        assert_eq!(
            a.secret_for("ASIAAAAAAAAAAAAAAAAA"),
            key(1).secret_for("ASIAAAAAAAAAAAAAAAAA")
        );
    }

    #[test]
    fn master_key_file_forms() {
        let bytes: [u8; 32] = core::array::from_fn(|i| u8::try_from(i * 7 + 1).unwrap());
        let expected = MasterKey::from_bytes(bytes).unwrap().id();
        let hex = hex::encode(bytes);
        let forms: Vec<Vec<u8>> = vec![
            bytes.to_vec(),
            hex.clone().into_bytes(),
            format!("{}\n", hex.to_uppercase()).into_bytes(),
            format!("  {}\r\n", STANDARD.encode(bytes)).into_bytes(),
            STANDARD_NO_PAD.encode(bytes).into_bytes(),
            URL_SAFE.encode(bytes).into_bytes(),
            URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        ];
        for form in forms {
            assert_eq!(MasterKey::from_file_contents(&form).unwrap().id(), expected);
        }
        let key = MasterKey::from_bytes(bytes).unwrap();
        assert_eq!(key.to_hex(), hex);
        assert_eq!(
            MasterKey::from_file_contents(key.to_hex().as_bytes())
                .unwrap()
                .id(),
            expected
        );
        for bad in [
            &b""[..],
            b"short",
            &[0u8; 32],
            &[1u8; 33],
            &[0xffu8; 31],
            STANDARD.encode([1u8; 31]).as_bytes(),
            "zz".repeat(32).as_bytes(),
        ] {
            assert!(
                matches!(
                    MasterKey::from_file_contents(bad),
                    Err(CredError::InvalidMasterKey(_))
                ),
                "{bad:?}"
            );
        }
        let debug = format!("{key:?}");
        assert!(!debug.contains(&hex));
        assert!(debug.contains(&expected.to_string()));
        assert_eq!(expected.to_string().len(), 16);
    }

    /// What GetCallerIdentity and the gateway do: a client signs with the
    /// issued credentials using the AWS SDK's signer (aws-sigv4); the server
    /// opens the session token and re-derives the secret to verify SigV4.
    fn sdk_signed_request(creds: &Credentials, time: i64) -> http::Request<Vec<u8>> {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
        let form = "application/x-www-form-urlencoded";
        sdk_signed(creds, "sts", "/", (form, body), time)
    }

    /// A POST of `body` (of `content_type`) to `http://127.0.0.1:8080{path}`, signed for
    /// `service` with `creds` at `time` by the AWS SDK's signer (aws-sigv4).
    pub(crate) fn sdk_signed(
        creds: &Credentials,
        service: &str,
        path: &str,
        (content_type, body): (&str, Vec<u8>),
        time: i64,
    ) -> http::Request<Vec<u8>> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_smithy_runtime_api::client::identity::Identity;
        let identity: Identity = aws_credential_types::Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            Some(creds.session_token.clone()),
            None,
            "test",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(time.unsigned_abs()))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let uri = format!("http://127.0.0.1:8080{path}");
        let headers = [("content-type", content_type)];
        let signable = SignableRequest::new(
            "POST",
            &uri,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&uri)
            .header("host", "127.0.0.1:8080")
            .header("content-type", content_type)
            .body(body)
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request
    }

    /// Server side: verify SigV4 with the secret re-derived from the token.
    fn server_verify(
        ring: &KeyRing,
        request: &http::Request<Vec<u8>>,
        now: i64,
    ) -> Result<SessionClaims, String> {
        let headers: Vec<(&str, &[u8])> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let req = irsa_sigv4::Request {
            method: request.method().as_str(),
            path: request.uri().path(),
            query: request.uri().query().unwrap_or(""),
            headers: &headers,
            body: request.body(),
        };
        let parsed = irsa_sigv4::parse(&req, &irsa_sigv4::VerifyOptions::for_service("sts"))
            .map_err(|e| StsError::from(e).code().to_owned())?;
        let token = parsed.security_token().ok_or("MissingToken")?;
        let session = open(ring, token, parsed.access_key_id(), now)
            .map_err(|e| StsError::from(e).code().to_owned())?;
        let secret =
            secret_for(ring, parsed.access_key_id(), &session).map_err(|e| e.to_string())?;
        parsed
            .verify(&secret, now)
            .map_err(|e| StsError::from(e).code().to_owned())?;
        Ok(session.claims)
    }

    #[test]
    fn sigv4_end_to_end_with_the_sdk_signer() {
        let ring = KeyRing::single(key(1));
        let creds = issue(&ring, &claims(), &mut rng()).unwrap();
        let request = sdk_signed_request(&creds, NOW + 10);
        assert_eq!(server_verify(&ring, &request, NOW + 12).unwrap(), claims());

        // After a rotation the old session still verifies.
        let rotated = KeyRing::new(key(3), vec![key(1)]).unwrap();
        assert!(server_verify(&rotated, &request, NOW + 12).is_ok());

        // A secret guessed from another session does not verify.
        let other = issue(&ring, &claims(), &mut StdRng::seed_from_u64(8)).unwrap();
        assert_ne!(other.secret_access_key, creds.secret_access_key);
        let mut forged = creds.clone();
        forged.secret_access_key = other.secret_access_key;
        let request = sdk_signed_request(&forged, NOW + 10);
        assert_eq!(
            server_verify(&ring, &request, NOW + 12).unwrap_err(),
            "SignatureDoesNotMatch"
        );

        // An expired session is refused with ExpiredToken even when signed in time.
        let request = sdk_signed_request(&creds, NOW + 3600);
        assert_eq!(
            server_verify(&ring, &request, NOW + 3600).unwrap_err(),
            "ExpiredToken"
        );

        // A token from another deployment is refused.
        assert_eq!(
            server_verify(
                &KeyRing::single(key(9)),
                &sdk_signed_request(&creds, NOW),
                NOW
            )
            .unwrap_err(),
            "InvalidClientTokenId"
        );
    }

    #[test]
    fn generated_keys_differ() {
        let mut r = rng();
        let a = MasterKey::generate(&mut r);
        let b = MasterKey::generate(&mut r);
        assert_ne!(a.id(), b.id());
        assert_eq!(
            MasterKey::from_file_contents(a.to_hex().as_bytes())
                .unwrap()
                .id(),
            a.id()
        );
    }
}
