//! `GetCallerIdentity`: verify SigV4 (service `sts`, region from the scope, 15 minutes of
//! skew), open the session token, answer the session's ARN, user id and account.

use crate::config::Config;
use crate::credentials::{self, KeyRing};
use crate::error::StsError;
use crate::xml::GetCallerIdentityResult;
use irsa_sigv4::VerifyOptions;

/// Splits `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` into (partition, account, name).
fn role_parts(role_arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = role_arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return None;
    };
    let rest = resource.strip_prefix("role/")?;
    let name = rest.rsplit('/').next()?;
    Some((partition, account, name))
}

/// `GetCallerIdentity` for a signed HTTP request.
pub fn get_caller_identity(
    http: &irsa_sigv4::Request<'_>,
    config: &Config,
    keyring: &KeyRing,
    now: i64,
) -> Result<GetCallerIdentityResult, StsError> {
    let options = VerifyOptions::for_service("sts");
    let parsed = irsa_sigv4::parse(http, &options)?;
    parsed.check_time(now)?;
    // Only session credentials exist here: an ASIA key id with a session token that opens.
    let Some(token) = parsed.security_token() else {
        return Err(StsError::InvalidClientTokenId);
    };
    if !credentials::is_access_key_id(parsed.access_key_id()) {
        return Err(StsError::InvalidClientTokenId);
    }
    let akid = parsed.access_key_id();
    let session = credentials::open(keyring, token, akid, now)?;
    let secret = credentials::secret_for(keyring, akid, &session)?;
    parsed.verify(&secret, now)?;
    let claims = session.claims;
    let (partition, account, name) =
        role_parts(&claims.role_arn).ok_or(StsError::InvalidClientTokenId)?;
    // The id sealed at issue time; a role since removed from the config still answers.
    let role_id = match config.role(&claims.role_arn) {
        Some(r) if claims.role_id.is_empty() => r.role_id.clone(),
        _ => claims.role_id.clone(),
    };
    Ok(GetCallerIdentityResult {
        user_id: format!("{role_id}:{}", claims.session_name),
        account: account.to_owned(),
        arn: format!(
            "arn:{partition}:sts::{account}:assumed-role/{name}/{}",
            claims.session_name
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assume::tests::{CONFIG, NOW, ROLE, ring};
    use crate::credentials::{Credentials, SessionClaims};
    use rand::SeedableRng;

    fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
        use aws_lc_rs::hmac;
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
            .as_ref()
            .to_vec()
    }

    fn sha256(b: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
            .as_ref()
            .to_vec()
    }

    fn hex(b: &[u8]) -> String {
        hex::encode(b)
    }

    /// Signs POST / with a form body, headers host, x-amz-date, x-amz-security-token.
    fn signed(
        akid: &str,
        secret: &str,
        token: &str,
        at: i64,
        body: &str,
    ) -> Vec<(String, Vec<u8>)> {
        let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
        let date = format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day());
        let amz = format!("{date}T{:02}{:02}{:02}Z", t.hour(), t.minute(), t.second());
        let scope = format!("{date}/us-east-1/sts/aws4_request");
        let canonical = format!(
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:sts.local\nx-amz-date:{amz}\nx-amz-security-token:{token}\n\ncontent-type;host;x-amz-date;x-amz-security-token\n{}",
            hex(&sha256(body.as_bytes()))
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            hex(&sha256(canonical.as_bytes()))
        );
        let mut k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        for part in ["us-east-1", "sts", "aws4_request"] {
            k = hmac(&k, part.as_bytes());
        }
        let sig = hex(&hmac(&k, sts.as_bytes()));
        vec![
            ("content-type".into(), b"application/x-www-form-urlencoded".to_vec()),
            ("host".into(), b"sts.local".to_vec()),
            ("x-amz-date".into(), amz.into_bytes()),
            ("x-amz-security-token".into(), token.as_bytes().to_vec()),
            ("authorization".into(), format!("AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={sig}").into_bytes()),
        ]
    }

    fn call(
        headers: &[(String, Vec<u8>)],
        body: &str,
        now: i64,
    ) -> Result<GetCallerIdentityResult, StsError> {
        let h: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        let req = irsa_sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: body.as_bytes(),
        };
        let config = Config::from_yaml(CONFIG).unwrap();
        get_caller_identity(&req, &config, &ring(), now)
    }

    const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

    fn creds(expires_at: i64) -> Credentials {
        creds_seeded(expires_at, 5)
    }

    fn creds_seeded(expires_at: i64, seed: u64) -> Credentials {
        let claims = SessionClaims {
            role_arn: ROLE.into(),
            role_id: "AROAEXAMPLEEXAMPLE123".into(),
            session_name: "s1".into(),
            subject: "system:serviceaccount:default:reader".into(),
            audience: "sts.amazonaws.com".into(),
            provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test/id/ABC".into(),
            issued_at: NOW - 10,
            expires_at,
            session_policy: None,
            policy_arns: vec![],
            source_identity: None,
            tags: vec![],
            transitive_tag_keys: vec![],
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        credentials::issue(&ring(), &claims, &mut rng).unwrap()
    }

    #[test]
    fn answers_the_session() {
        let c = creds(NOW + 3600);
        let h = signed(
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
            NOW,
            BODY,
        );
        let r = call(&h, BODY, NOW + 60).unwrap();
        assert_eq!(
            r.arn,
            "arn:aws:sts::111122223333:assumed-role/allow-read/s1"
        );
        assert_eq!(r.account, "111122223333");
        assert_eq!(r.user_id, "AROAEXAMPLEEXAMPLE123:s1");
    }

    #[test]
    fn failures() {
        let c = creds(NOW + 3600);
        let code = |r: Result<GetCallerIdentityResult, StsError>| r.unwrap_err().code();
        assert_eq!(
            code(call(&[("host".into(), b"x".to_vec())], BODY, NOW)),
            "MissingAuthenticationToken"
        );
        let wrong_secret = signed(
            &c.access_key_id,
            &"t".repeat(40),
            &c.session_token,
            NOW,
            BODY,
        );
        assert_eq!(
            code(call(&wrong_secret, BODY, NOW)),
            "SignatureDoesNotMatch"
        );
        let good = signed(
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
            NOW,
            BODY,
        );
        assert_eq!(
            code(call(
                &good,
                "Action=GetCallerIdentity&Version=2011-06-15&x=1",
                NOW
            )),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(call(&good, BODY, NOW + 16 * 60)),
            "SignatureDoesNotMatch",
            "skew"
        );
        let bad_token = signed(&c.access_key_id, &c.secret_access_key, "garbage", NOW, BODY);
        assert_eq!(code(call(&bad_token, BODY, NOW)), "InvalidClientTokenId");
        let other = creds_seeded(NOW + 3600, 6);
        let swapped = signed(
            &other.access_key_id,
            &other.secret_access_key,
            &c.session_token,
            NOW,
            BODY,
        );
        assert_eq!(code(call(&swapped, BODY, NOW)), "InvalidClientTokenId");
        let akia = signed(
            "AKIAFAKEFAKEFAKEFAKE",
            &c.secret_access_key,
            &c.session_token,
            NOW,
            BODY,
        );
        assert_eq!(code(call(&akia, BODY, NOW)), "InvalidClientTokenId");
        let short = creds(NOW + 100);
        let expired = signed(
            &short.access_key_id,
            &short.secret_access_key,
            &short.session_token,
            NOW + 200,
            BODY,
        );
        let e = call(&expired, BODY, NOW + 200).unwrap_err();
        assert_eq!((e.code(), e.status()), ("ExpiredToken", 403));
    }

    #[test]
    fn role_arn_parts() {
        assert_eq!(
            role_parts("arn:aws:iam::111122223333:role/team/x/allow-read"),
            Some(("aws", "111122223333", "allow-read"))
        );
        assert_eq!(role_parts("arn:aws:iam::111122223333:user/x"), None);
    }
}
