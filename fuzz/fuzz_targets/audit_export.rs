//! `irsa_audit::Account::from_authorization_details` (an `aws iam
//! get-account-authorization-details` export) on arbitrary text, then the audit of what it
//! read against a fixed set of ServiceAccounts. No panic; the work stays proportional to
//! the input: what was read is never larger than what was given.
#![no_main]

use irsa_audit::{Account, Cluster, ServiceAccount, audit, parse_service_accounts, summarize};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/FUZZ";

fn service_accounts() -> &'static [ServiceAccount] {
    static SAS: OnceLock<Vec<ServiceAccount>> = OnceLock::new();
    SAS.get_or_init(|| {
        parse_service_accounts(
            r#"{"kind": "List", "items": [
              {"kind": "ServiceAccount", "metadata": {"namespace": "prod", "name": "app",
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app"}}},
              {"kind": "ServiceAccount", "metadata": {"namespace": "dev", "name": "app"}},
              {"kind": "ServiceAccount", "metadata": {"namespace": "kube-system", "name": "default",
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/path/r",
                                "eks.amazonaws.com/audience": "other"}}}]}"#,
        )
        .unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let account = match Account::from_authorization_details(text) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // Every role and document came out of the input: URL-decoding only shrinks, and a
    // decoded JSON object re-serialized compactly is at most a few times its source
    // (numbers such as `1E5` print as `100000.0`).
    let bound = 4 * text.len() + 64;
    assert!(account.roles.len() <= text.len() / 16 + 1);
    for r in &account.roles {
        assert!(r.trust.text.len() <= bound);
        for p in &r.permissions {
            if let Some(d) = &p.document {
                assert!(d.text.len() <= bound);
            }
        }
        let _ = summarize(r);
    }
    let report = audit(
        &account,
        service_accounts(),
        &Cluster::new(ISSUER.to_owned()),
    );
    assert!(report.roles.len() + report.other_roles.len() <= account.roles.len());
    assert_eq!(report.service_accounts.len(), service_accounts().len());
    for sa in &report.service_accounts {
        // A ServiceAccount can only be reported as assuming roles the account has.
        for arn in &sa.can_assume {
            assert!(account.role(arn).is_some(), "{arn}");
        }
    }
});
