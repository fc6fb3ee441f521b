//! `irsa_audit::parse_service_accounts` (`kubectl get sa -A -o json`, the API's list, or
//! one ServiceAccount) on arbitrary text. No panic; every ServiceAccount read has a
//! subject that names it and no other (`system:serviceaccount:NS:NAME` splits back into
//! its namespace and name); the list is sorted, without duplicates, and no longer than the
//! input allows.
#![no_main]

use irsa_audit::{SA_PREFIX, parse_service_accounts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sas = match parse_service_accounts(text) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // `{"metadata":{"name":"a","namespace":"b"}}` is the smallest item.
    assert!(sas.len() <= text.len() / 40 + 1);
    for w in sas.windows(2) {
        assert!((&w[0].namespace, &w[0].name) < (&w[1].namespace, &w[1].name));
    }
    for sa in &sas {
        let subject = sa.subject();
        let rest = subject.strip_prefix(SA_PREFIX).unwrap_or_default();
        let parts: Vec<&str> = rest.split(':').collect();
        assert_eq!(
            parts,
            [sa.namespace.as_str(), sa.name.as_str()],
            "{subject}"
        );
        assert!(!sa.id().contains(':'));
        assert_eq!(sa.id().matches('/').count(), 1);
    }
});
