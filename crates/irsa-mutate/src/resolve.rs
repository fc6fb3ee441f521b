//! Which mutation (if any) applies to a pod's ServiceAccount: the reference's
//! `buildPodPatchConfig` minus the pod annotations (applied by [`crate::mutate`]).

use crate::DEFAULT_TOKEN_EXPIRATION;
use crate::config::{
    ConfigMapConfig, ConfigMapEntry, ContainerCredentialsConfig, ServiceAccountConfig,
};
use crate::settings::Settings;

/// Everything the resolver needs to know about one pod's identity.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The admission request's namespace (the reference ignores the pod's own).
    pub namespace: &'a str,
    /// The pod's `spec.serviceAccountName` (see [`crate::pod_service_account`]).
    pub service_account: &'a str,
    /// The SA-cache entry; `None` when the ServiceAccount is not in the cache.
    pub service_account_config: Option<&'a ServiceAccountConfig>,
    /// The `pod-identity-webhook` ConfigMap mapping, when `--watch-config-map` is on.
    pub config_map: Option<&'a ConfigMapConfig>,
    /// The container-credentials file, when `--watch-container-credentials-config` is set.
    pub container_credentials: Option<&'a ContainerCredentialsConfig>,
}

/// IRSA (`sts:AssumeRoleWithWebIdentity`) mutation settings for a ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrsaDecision {
    /// Non-empty role ARN.
    pub role_arn: String,
    /// Token audience (may be empty for a ConfigMap entry without `Audience`; the
    /// volume then has no audience and the API server's default applies).
    pub audience: String,
    /// Inject `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub use_regional_sts: bool,
    /// Token lifetime before the pod's `<prefix>/token-expiration` annotation.
    pub token_expiration: i64,
    /// `AWS_REGION`/`AWS_DEFAULT_REGION` to inject; empty: none.
    pub region: String,
    /// The ServiceAccount's `<prefix>/role-session-name` (the pod's annotation wins).
    pub role_session_name: Option<String>,
}

/// Container-credentials (EKS Pod Identity) mutation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCredentialsDecision {
    /// Inject `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub use_regional_sts: bool,
    /// Token lifetime before the pod annotation and the jitter.
    pub token_expiration: i64,
    /// `AWS_REGION`/`AWS_DEFAULT_REGION` to inject; empty: none.
    pub region: String,
}

/// No identity, only the region (`--region-all-pods`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionDecision {
    /// Non-empty region for `AWS_REGION`/`AWS_DEFAULT_REGION`.
    pub region: String,
    /// Why there is no identity.
    pub reason: NoMutation,
}

/// Why a pod is not mutated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoMutation {
    /// Neither the SA cache nor the ConfigMap knows the ServiceAccount. The reference
    /// counts these in `pod_identity_webhook_missing_sa_count`; a server may look the
    /// ServiceAccount up directly and resolve again.
    #[error("service account not found")]
    ServiceAccountNotFound,
    /// The ServiceAccount is known but has no (or an empty) role ARN.
    #[error("service account has no role arn")]
    NoRoleArn,
}

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Inject IRSA.
    Irsa(IrsaDecision),
    /// Inject EKS Pod Identity (container credentials).
    ContainerCredentials(ContainerCredentialsDecision),
    /// Inject only the region (`--region-all-pods`, a pod without identity).
    Region(RegionDecision),
    /// Leave the pod alone (`allowed: true`, no patch).
    None(NoMutation),
}

impl Decision {
    /// The `method` label of `pod_identity_webhook_pod_count`: `sts_web_identity` or
    /// `container_credentials`; `None` when nothing is mutated.
    pub fn method(&self) -> Option<&'static str> {
        match self {
            Decision::Irsa(_) => Some("sts_web_identity"),
            Decision::ContainerCredentials(_) => Some("container_credentials"),
            Decision::Region(_) | Decision::None(_) => None,
        }
    }
}

fn cm_expiration(entry: &ConfigMapEntry, settings: &Settings) -> i64 {
    if entry.token_expiration == 0 {
        settings.effective_token_expiration()
    } else {
        entry.token_expiration
    }
}

/// Decides how to mutate a pod of `lookup.namespace/lookup.service_account`, following
/// the reference exactly:
///
/// 1. Listed in the container-credentials config → container credentials, even if the
///    ServiceAccount has a role ARN. Regional STS and lifetime come from the SA-cache
///    entry (annotated or not), else the ConfigMap entry for the exact namespace, else
///    `(false, 86400)` (ignoring the flags).
/// 2. Otherwise IRSA from the SA-cache entry if it has a role ARN, else from the
///    ConfigMap entry `namespace/name`, else `*/name` (the SA annotations win).
/// 3. Otherwise no mutation, with the reason; with `--region-all-pods` and a region,
///    [`Decision::Region`].
///
/// The region is the ServiceAccount's `<prefix>/region` when set (empty: none), else
/// `--aws-default-region`.
pub fn resolve(lookup: &Lookup<'_>, settings: &Settings) -> Decision {
    let decision = resolve_identity(lookup, settings);
    match decision {
        Decision::None(reason) if settings.region_all_pods => {
            let region = region(lookup.service_account_config, settings);
            if region.is_empty() {
                decision
            } else {
                Decision::Region(RegionDecision { region, reason })
            }
        }
        d => d,
    }
}

fn region(sa: Option<&ServiceAccountConfig>, settings: &Settings) -> String {
    sa.and_then(|sa| sa.region.clone())
        .unwrap_or_else(|| settings.aws_default_region.clone())
}

fn resolve_identity(lookup: &Lookup<'_>, settings: &Settings) -> Decision {
    let Lookup {
        namespace,
        service_account: name,
        service_account_config: sa,
        config_map: cm,
        container_credentials: cc,
    } = *lookup;

    if cc.is_some_and(|cc| cc.contains(namespace, name)) {
        let (use_regional_sts, token_expiration) =
            match (sa, cm.and_then(|cm| cm.get(namespace, name))) {
                (Some(sa), _) => (sa.use_regional_sts, sa.token_expiration),
                (None, Some(entry)) => (entry.use_regional_sts, cm_expiration(entry, settings)),
                (None, None) => (false, DEFAULT_TOKEN_EXPIRATION),
            };
        return Decision::ContainerCredentials(ContainerCredentialsDecision {
            use_regional_sts,
            token_expiration,
            region: region(sa, settings),
        });
    }

    if let Some((sa, role_arn)) = sa.and_then(|sa| {
        sa.role_arn
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|arn| (sa, arn))
    }) {
        return Decision::Irsa(IrsaDecision {
            role_arn: role_arn.clone(),
            audience: sa.audience.clone(),
            use_regional_sts: sa.use_regional_sts,
            token_expiration: sa.token_expiration,
            region: region(Some(sa), settings),
            role_session_name: sa.role_session_name.clone(),
        });
    }
    match cm.and_then(|cm| cm.lookup(namespace, name)) {
        Some(entry) if !entry.role_arn.is_empty() => Decision::Irsa(IrsaDecision {
            role_arn: entry.role_arn.clone(),
            audience: entry.audience.clone(),
            use_regional_sts: entry.use_regional_sts,
            token_expiration: cm_expiration(entry, settings),
            region: region(sa, settings),
            role_session_name: sa.and_then(|sa| sa.role_session_name.clone()),
        }),
        Some(_) => Decision::None(NoMutation::NoRoleArn),
        None if sa.is_some() => Decision::None(NoMutation::NoRoleArn),
        None => Decision::None(NoMutation::ServiceAccountNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;
    use std::collections::BTreeMap;

    const ARN: &str = "arn:aws:iam::111122223333:role/sa";

    fn sa(pairs: &[(&str, &str)], settings: &Settings) -> ServiceAccountConfig {
        let ann: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("eks.amazonaws.com/{k}"), v.to_string()))
            .collect();
        ServiceAccountConfig::from_annotations(&ann, settings)
    }

    fn cc(ns: &str, name: &str) -> ContainerCredentialsConfig {
        ContainerCredentialsConfig::from_identities([Identity {
            namespace: ns.into(),
            service_account: name.into(),
        }])
    }

    fn lookup<'a>(
        sa: Option<&'a ServiceAccountConfig>,
        cm: Option<&'a ConfigMapConfig>,
        cc: Option<&'a ContainerCredentialsConfig>,
    ) -> Lookup<'a> {
        Lookup {
            namespace: "ns",
            service_account: "app",
            service_account_config: sa,
            config_map: cm,
            container_credentials: cc,
        }
    }

    #[test]
    fn irsa_from_annotations() {
        let s = Settings::default();
        let a = sa(&[("role-arn", ARN), ("token-expiration", "3600")], &s);
        let d = resolve(&lookup(Some(&a), None, None), &s);
        assert_eq!(
            d,
            Decision::Irsa(IrsaDecision {
                role_arn: ARN.into(),
                audience: "sts.amazonaws.com".into(),
                use_regional_sts: false,
                token_expiration: 3600,
                region: String::new(),
                role_session_name: None,
            })
        );
        assert_eq!(d.method(), Some("sts_web_identity"));
    }

    #[test]
    fn not_found_and_no_arn() {
        let s = Settings::default();
        assert_eq!(
            resolve(&lookup(None, None, None), &s),
            Decision::None(NoMutation::ServiceAccountNotFound)
        );
        let plain = sa(&[], &s);
        assert_eq!(
            resolve(&lookup(Some(&plain), None, None), &s),
            Decision::None(NoMutation::NoRoleArn)
        );
        let cm = ConfigMapConfig::parse(r#"{"ns/app":{"Audience":"x"}}"#).unwrap();
        assert_eq!(
            resolve(&lookup(None, Some(&cm), None), &s),
            Decision::None(NoMutation::NoRoleArn)
        );
    }

    #[test]
    fn annotations_beat_config_map() {
        let s = Settings::default();
        let a = sa(&[("role-arn", ARN)], &s);
        let cm =
            ConfigMapConfig::parse(r#"{"ns/app":{"RoleARN":"arn:aws:iam::111122223333:role/cm"}}"#)
                .unwrap();
        let Decision::Irsa(d) = resolve(&lookup(Some(&a), Some(&cm), None), &s) else {
            panic!()
        };
        assert_eq!(d.role_arn, ARN);
        // An SA without role-arn falls through to the ConfigMap.
        let plain = sa(&[("audience", "ignored")], &s);
        let Decision::Irsa(d) = resolve(&lookup(Some(&plain), Some(&cm), None), &s) else {
            panic!()
        };
        assert_eq!(d.role_arn, "arn:aws:iam::111122223333:role/cm");
        assert_eq!(d.audience, "");
        assert!(!d.use_regional_sts);
        assert_eq!(d.token_expiration, 86400);
    }

    #[test]
    fn config_map_wildcard_and_zero_expiration() {
        let s = Settings {
            token_expiration: 7200,
            sts_regional_endpoint: true,
            ..Settings::default()
        };
        let cm = ConfigMapConfig::parse(
            r#"{"*/app":{"RoleARN":"w","Audience":"a","TokenExpiration":0},"other/app":{"RoleARN":"o","TokenExpiration":100}}"#,
        )
        .unwrap();
        let Decision::Irsa(d) = resolve(&lookup(None, Some(&cm), None), &s) else {
            panic!()
        };
        assert_eq!(
            (d.role_arn.as_str(), d.token_expiration, d.use_regional_sts),
            ("w", 7200, false)
        );
        let mut l = lookup(None, Some(&cm), None);
        l.namespace = "other";
        let Decision::Irsa(d) = resolve(&l, &s) else {
            panic!()
        };
        // Not clamped, as in the reference.
        assert_eq!((d.role_arn.as_str(), d.token_expiration), ("o", 100));
    }

    #[test]
    fn region_from_annotation_flag_or_none() {
        let s = Settings {
            aws_default_region: "us-gov-west-1".into(),
            ..Settings::default()
        };
        let region_of = |d: Decision| match d {
            Decision::Irsa(d) => d.region,
            Decision::ContainerCredentials(d) => d.region,
            Decision::Region(d) => d.region,
            Decision::None(_) => "(none)".into(),
        };
        let flag = sa(&[("role-arn", ARN)], &s);
        assert_eq!(
            region_of(resolve(&lookup(Some(&flag), None, None), &s)),
            "us-gov-west-1"
        );
        let own = sa(&[("role-arn", ARN), ("region", "us-east-1")], &s);
        assert_eq!(
            region_of(resolve(&lookup(Some(&own), None, None), &s)),
            "us-east-1"
        );
        let off = sa(&[("role-arn", ARN), ("region", "")], &s);
        assert_eq!(region_of(resolve(&lookup(Some(&off), None, None), &s)), "");
        let bad = sa(&[("role-arn", ARN), ("region", "Not A Region")], &s);
        assert_eq!(
            region_of(resolve(&lookup(Some(&bad), None, None), &s)),
            "us-gov-west-1"
        );
        // Container credentials and ConfigMap entries take the SA's region too.
        let c = cc("ns", "app");
        assert_eq!(
            region_of(resolve(&lookup(Some(&own), None, Some(&c)), &s)),
            "us-east-1"
        );
        let cm =
            ConfigMapConfig::parse(r#"{"ns/app":{"RoleARN":"arn:aws:iam::111122223333:role/cm"}}"#)
                .unwrap();
        let plain_own = sa(&[("region", "eu-west-1")], &s);
        assert_eq!(
            region_of(resolve(&lookup(Some(&plain_own), Some(&cm), None), &s)),
            "eu-west-1"
        );
        assert_eq!(
            region_of(resolve(&lookup(None, Some(&cm), None), &s)),
            "us-gov-west-1"
        );
    }

    #[test]
    fn region_all_pods() {
        let mut s = Settings {
            aws_default_region: "eu-west-1".into(),
            region_all_pods: true,
            ..Settings::default()
        };
        let plain = sa(&[], &s);
        assert_eq!(
            resolve(&lookup(Some(&plain), None, None), &s),
            Decision::Region(RegionDecision {
                region: "eu-west-1".into(),
                reason: NoMutation::NoRoleArn
            })
        );
        assert_eq!(
            resolve(&lookup(None, None, None), &s),
            Decision::Region(RegionDecision {
                region: "eu-west-1".into(),
                reason: NoMutation::ServiceAccountNotFound
            })
        );
        assert_eq!(resolve(&lookup(None, None, None), &s).method(), None);
        let own = sa(&[("region", "ap-south-1")], &s);
        assert!(matches!(
            resolve(&lookup(Some(&own), None, None), &s),
            Decision::Region(RegionDecision { region, .. }) if region == "ap-south-1"
        ));
        let off = sa(&[("region", "")], &s);
        assert_eq!(
            resolve(&lookup(Some(&off), None, None), &s),
            Decision::None(NoMutation::NoRoleArn)
        );
        // Identity decisions are unchanged by the flag.
        let a = sa(&[("role-arn", ARN)], &s);
        assert!(matches!(
            resolve(&lookup(Some(&a), None, None), &s),
            Decision::Irsa(_)
        ));
        // Without a region there is nothing to inject.
        s.aws_default_region.clear();
        assert_eq!(
            resolve(&lookup(Some(&plain), None, None), &s),
            Decision::None(NoMutation::NoRoleArn)
        );
    }

    #[test]
    fn container_credentials_first() {
        let s = Settings {
            sts_regional_endpoint: true,
            token_expiration: 5000,
            ..Settings::default()
        };
        let a = sa(&[("role-arn", ARN), ("token-expiration", "4000")], &s);
        let c = cc("ns", "app");
        let d = resolve(&lookup(Some(&a), None, Some(&c)), &s);
        assert_eq!(
            d,
            Decision::ContainerCredentials(ContainerCredentialsDecision {
                use_regional_sts: true,
                token_expiration: 4000,
                region: String::new(),
            })
        );
        assert_eq!(d.method(), Some("container_credentials"));
        // Unannotated SA: the flags (through the SA entry).
        let plain = sa(&[], &s);
        let d = resolve(&lookup(Some(&plain), None, Some(&c)), &s);
        assert_eq!(
            d,
            Decision::ContainerCredentials(ContainerCredentialsDecision {
                use_regional_sts: true,
                token_expiration: 5000,
                region: String::new(),
            })
        );
        // No SA entry, no CM: (false, 86400), ignoring the flags.
        let d = resolve(&lookup(None, None, Some(&c)), &s);
        assert_eq!(
            d,
            Decision::ContainerCredentials(ContainerCredentialsDecision {
                use_regional_sts: false,
                token_expiration: 86400,
                region: String::new(),
            })
        );
        // CM exact namespace only (no wildcard) in this path.
        let cm =
            ConfigMapConfig::parse(r#"{"ns/app":{"UseRegionalSTS":true,"TokenExpiration":1234}}"#)
                .unwrap();
        let d = resolve(&lookup(None, Some(&cm), Some(&c)), &s);
        assert_eq!(
            d,
            Decision::ContainerCredentials(ContainerCredentialsDecision {
                use_regional_sts: true,
                token_expiration: 1234,
                region: String::new(),
            })
        );
        let wild =
            ConfigMapConfig::parse(r#"{"*/app":{"UseRegionalSTS":true,"TokenExpiration":1234}}"#)
                .unwrap();
        let d = resolve(&lookup(None, Some(&wild), Some(&c)), &s);
        assert_eq!(
            d,
            Decision::ContainerCredentials(ContainerCredentialsDecision {
                use_regional_sts: false,
                token_expiration: 86400,
                region: String::new(),
            })
        );
        // Other identities do not match.
        let other = cc("ns", "other");
        assert!(matches!(
            resolve(&lookup(Some(&a), None, Some(&other)), &s),
            Decision::Irsa(_)
        ));
    }
}
