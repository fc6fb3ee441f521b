//! The IAM side read from the AWS account itself (aws-sdk-iam): the role the pod uses,
//! its policies, and the account's OIDC providers. Credentials come from the default
//! chain, the endpoint from `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL` when set. Every
//! call is bounded (connect, attempt and operation timeouts, three attempts), and so is
//! how much is read (pages, policies).

use anyhow::Context as _;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use irsa_audit::{Account, Document, OidcProvider, PermissionPolicy, PolicySource, Role};
use std::time::Duration;

/// At most this many inline and this many attached policies are read (IAM allows 20
/// attached managed policies per role at most; inline policies share 10 KiB).
const MAX_POLICIES: usize = 100;
/// At most this many OIDC providers are listed (IAM allows 100 per account).
const MAX_PROVIDERS: usize = 200;
/// The whole read is bounded too.
const TOTAL: Duration = Duration::from_secs(60);

/// An IAM client from the default chain, with bounded timeouts and retries. IAM is a
/// global service: without a configured region, `us-east-1` signs its requests.
pub async fn client() -> aws_sdk_iam::Client {
    let region = aws_config::meta::region::RegionProviderChain::default_provider()
        .or_else(aws_config::Region::from_static("us-east-1"));
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .read_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    aws_sdk_iam::Client::new(&conf)
}

/// `Code: message` of an SDK error (or its display when the service gave no code).
fn why<E, R>(op: &str, e: aws_sdk_iam::error::SdkError<E, R>) -> anyhow::Error
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = match e.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("")
        ),
        // Not an answer from IAM (connect, timeout, credentials): the causes, in words.
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let part = c.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                cause = c.source();
            }
            text.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    anyhow::anyhow!("iam:{op}: {text}")
}

/// Reads the role `role_arn` (by name: IAM looks roles up by name, so a role found under
/// another path or in another account shows up with its real ARN) and the account's OIDC
/// providers, with the details (client ids) of the one for `issuer_prefix`.
pub async fn account(
    iam: &aws_sdk_iam::Client,
    role_arn: Option<&str>,
    issuer_prefix: Option<&str>,
) -> anyhow::Result<Account> {
    tokio::time::timeout(TOTAL, read(iam, role_arn, issuer_prefix))
        .await
        .map_err(|_| anyhow::anyhow!("IAM did not answer within {}s", TOTAL.as_secs()))?
}

async fn read(
    iam: &aws_sdk_iam::Client,
    role_arn: Option<&str>,
    issuer_prefix: Option<&str>,
) -> anyhow::Result<Account> {
    let providers = providers(iam, |p| Some(p) == issuer_prefix).await?;
    let mut roles = Vec::new();
    let wanted = role_arn.and_then(|a| a.split(':').nth(4)).unwrap_or("");
    let mut source = if wanted.is_empty() {
        "AWS account".to_owned()
    } else {
        format!("AWS account {wanted}")
    };
    if let Some(arn) = role_arn {
        // role/NAME or role/PATH/NAME: the name is the last segment.
        let name = arn.rsplit('/').next().unwrap_or("");
        if !name.is_empty()
            && let Some(role) = role(iam, name).await?
        {
            if wanted.is_empty() || role.account() == wanted {
                roles.push(role);
            } else {
                // The credentials reach another account: its role of the same name is
                // not the one the pod asks for.
                source = format!(
                    "AWS account {} (the credentials' account, not {wanted} of the role ARN)",
                    role.account()
                );
            }
        }
    }
    Ok(Account {
        roles,
        providers: Some(providers),
        source,
    })
}

/// The account's OIDC providers; the client ids of those `detail` selects (by the
/// ARN's `HOST/PATH`) are read with `GetOpenIDConnectProvider`, the others are listed by
/// ARN only.
async fn providers(
    iam: &aws_sdk_iam::Client,
    detail: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<OidcProvider>> {
    let listed = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| why("ListOpenIDConnectProviders", e))?;
    let mut providers = Vec::new();
    for p in listed
        .open_id_connect_provider_list()
        .iter()
        .take(MAX_PROVIDERS)
    {
        let Some(arn) = p.arn() else { continue };
        let from_arn = arn.split_once(":oidc-provider/").map_or("", |(_, r)| r);
        if !detail(from_arn) {
            // Listed by ARN only: its client ids do not matter for this issuer.
            providers.push(OidcProvider {
                arn: arn.to_owned(),
                key_prefix: from_arn.to_owned(),
                client_ids: Vec::new(),
            });
            continue;
        }
        let got = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| why("GetOpenIDConnectProvider", e))?;
        let url = got.url().unwrap_or(from_arn);
        providers.push(OidcProvider {
            arn: arn.to_owned(),
            key_prefix: url
                .strip_prefix("https://")
                .unwrap_or(url)
                .trim_end_matches('/')
                .to_owned(),
            client_ids: got.client_id_list().to_vec(),
        });
    }
    Ok(providers)
}

/// `GetRole`, its inline policies and its attached managed policies (default versions).
/// `None` when IAM has no role of that name.
async fn role(iam: &aws_sdk_iam::Client, name: &str) -> anyhow::Result<Option<Role>> {
    let got = match iam.get_role().role_name(name).send().await {
        Ok(r) => r,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(why("GetRole", e)),
    };
    let r = got.role().context("iam:GetRole: no Role in the answer")?;
    let trust = trust_document(
        "GetRole AssumeRolePolicyDocument",
        r.assume_role_policy_document(),
    )?;
    let mut permissions = inline_policies(iam, name).await?;
    permissions.extend(attached_policies(iam, name).await?);
    Ok(Some(Role {
        name: r.role_name().to_owned(),
        path: r.path().to_owned(),
        arn: r.arn().to_owned(),
        trust,
        permissions,
        boundary: r
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
    }))
}

/// A role's trust policy as read (`field` names it in errors), or the reason it has none.
fn trust_document(field: &str, document: Option<&str>) -> anyhow::Result<Document> {
    Ok(match document {
        Some(d) => Document::from_iam(field, d)?,
        None => Document {
            text: String::new(),
            policy: Err("the role has no AssumeRolePolicyDocument".into()),
        },
    })
}

/// The role's inline policies (`ListRolePolicies`, `GetRolePolicy`), at most
/// [`MAX_POLICIES`].
async fn inline_policies(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> anyhow::Result<Vec<PermissionPolicy>> {
    let mut names = iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send();
    let mut inline = Vec::new();
    while let Some(n) = names.next().await {
        inline.push(n.map_err(|e| why("ListRolePolicies", e))?);
        if inline.len() >= MAX_POLICIES {
            break;
        }
    }
    let mut permissions = Vec::new();
    for n in inline {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&n)
            .send()
            .await
            .map_err(|e| why("GetRolePolicy", e))?;
        permissions.push(PermissionPolicy {
            source: PolicySource::Inline { name: n.clone() },
            document: Some(Document::from_iam(
                &format!("GetRolePolicy {n}"),
                p.policy_document(),
            )?),
        });
    }
    Ok(permissions)
}

/// The role's attached managed policies (`ListAttachedRolePolicies`), at most
/// [`MAX_POLICIES`], each with its default version.
async fn attached_policies(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> anyhow::Result<Vec<PermissionPolicy>> {
    let mut attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send();
    let mut managed = Vec::new();
    while let Some(a) = attached.next().await {
        let a = a.map_err(|e| why("ListAttachedRolePolicies", e))?;
        managed.push((
            a.policy_name().unwrap_or("").to_owned(),
            a.policy_arn().unwrap_or("").to_owned(),
        ));
        if managed.len() >= MAX_POLICIES {
            break;
        }
    }
    let mut permissions = Vec::new();
    for (pname, parn) in managed {
        let (version, document) = default_version(iam, &parn).await?;
        permissions.push(PermissionPolicy {
            source: PolicySource::Managed {
                name: pname,
                arn: parn,
                version,
            },
            document,
        });
    }
    Ok(permissions)
}

/// A managed policy's default version id and its document (`GetPolicy`, then
/// `GetPolicyVersion`).
async fn default_version(
    iam: &aws_sdk_iam::Client,
    arn: &str,
) -> anyhow::Result<(Option<String>, Option<Document>)> {
    let version = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| why("GetPolicy", e))?
        .policy()
        .and_then(|p| p.default_version_id())
        .map(str::to_owned);
    let Some(v) = &version else {
        return Ok((None, None));
    };
    let pv = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(v)
        .send()
        .await
        .map_err(|e| why("GetPolicyVersion", e))?;
    let document = match pv.policy_version().and_then(|v| v.document()) {
        Some(d) => Some(Document::from_iam(
            &format!("GetPolicyVersion {arn} {v}"),
            d,
        )?),
        None => None,
    };
    Ok((version, document))
}

/// At most this many roles are read for `irsa audit --aws` (IAM's default quota is 1,000
/// roles per account, raisable to 5,000).
const MAX_ROLES: usize = 10_000;
/// At most this many AWS managed policies attached to roles are fetched one by one.
const MAX_AWS_MANAGED: usize = 500;
/// The whole-account read is bounded in time too.
const TOTAL_ACCOUNT: Duration = Duration::from_secs(300);

/// The whole account for `irsa audit --aws`: `GetAccountAuthorizationDetails` (roles and
/// customer managed policies, every page), the AWS managed policies the roles attach
/// (`GetPolicy` + `GetPolicyVersion`, their default versions), and every OIDC provider.
pub async fn whole_account(iam: &aws_sdk_iam::Client) -> anyhow::Result<Account> {
    tokio::time::timeout(TOTAL_ACCOUNT, read_whole(iam))
        .await
        .map_err(|_| anyhow::anyhow!("IAM did not answer within {}s", TOTAL_ACCOUNT.as_secs()))?
}

/// Managed policy ARN → (default version id, document).
type ManagedPolicies = std::collections::BTreeMap<String, (Option<String>, Option<Document>)>;

async fn read_whole(iam: &aws_sdk_iam::Client) -> anyhow::Result<Account> {
    let (raw_roles, mut managed) = authorization_details(iam).await?;
    // The AWS managed policies the roles attach (not in the details without AWSManagedPolicy,
    // which would bring every AWS managed policy with every version).
    let mut missing: Vec<String> = raw_roles
        .iter()
        .flat_map(|r| r.attached_managed_policies())
        .filter_map(|a| a.policy_arn())
        .filter(|a| !managed.contains_key(*a))
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    for arn in missing.into_iter().take(MAX_AWS_MANAGED) {
        let found = default_version(iam, &arn).await?;
        managed.insert(arn, found);
    }
    let roles = raw_roles
        .iter()
        .map(|r| role_of_details(r, &managed))
        .collect::<anyhow::Result<Vec<Role>>>()?;
    let mut account = Account {
        roles,
        providers: Some(providers(iam, |_| true).await?),
        source: "AWS account".to_owned(),
    };
    if let Some(id) = account.account_ids().first().map(|s| (*s).to_owned()) {
        account.source = format!("AWS account {id}");
    }
    Ok(account)
}

/// Every page of `GetAccountAuthorizationDetails` for roles and customer managed
/// policies (at most [`MAX_ROLES`] roles): the roles, and the policies' default versions.
async fn authorization_details(
    iam: &aws_sdk_iam::Client,
) -> anyhow::Result<(Vec<aws_sdk_iam::types::RoleDetail>, ManagedPolicies)> {
    use aws_sdk_iam::types::EntityType;
    let mut pages = iam
        .get_account_authorization_details()
        .filter(EntityType::Role)
        .filter(EntityType::LocalManagedPolicy)
        .into_paginator()
        .send();
    let mut raw_roles = Vec::new();
    let mut managed = ManagedPolicies::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| why("GetAccountAuthorizationDetails", e))?;
        for p in page.policies() {
            let Some(arn) = p.arn() else { continue };
            let default = p
                .policy_version_list()
                .iter()
                .find(|v| v.is_default_version());
            let doc = match default.and_then(|v| v.document()) {
                Some(d) => Some(Document::from_iam(&format!("Policies {arn}"), d)?),
                None => None,
            };
            managed.insert(
                arn.to_owned(),
                (
                    default
                        .and_then(|v| v.version_id())
                        .or(p.default_version_id())
                        .map(str::to_owned),
                    doc,
                ),
            );
        }
        raw_roles.extend(page.role_detail_list().iter().cloned());
        if raw_roles.len() > MAX_ROLES {
            anyhow::bail!("the account has more than {MAX_ROLES} roles: use --iam-export");
        }
    }
    Ok((raw_roles, managed))
}

/// A role of the authorization details, its managed policies taken from `managed`.
fn role_of_details(
    r: &aws_sdk_iam::types::RoleDetail,
    managed: &ManagedPolicies,
) -> anyhow::Result<Role> {
    let name = r.role_name().unwrap_or_default();
    let trust = trust_document(
        &format!("{name} AssumeRolePolicyDocument"),
        r.assume_role_policy_document(),
    )?;
    let mut permissions = Vec::new();
    for p in r.role_policy_list() {
        let pname = p.policy_name().unwrap_or_default();
        permissions.push(PermissionPolicy {
            source: PolicySource::Inline {
                name: pname.to_owned(),
            },
            document: match p.policy_document() {
                Some(d) => Some(Document::from_iam(&format!("{name} {pname}"), d)?),
                None => None,
            },
        });
    }
    for a in r.attached_managed_policies() {
        let arn = a.policy_arn().unwrap_or_default();
        let found = managed.get(arn);
        permissions.push(PermissionPolicy {
            source: PolicySource::Managed {
                name: a.policy_name().unwrap_or_default().to_owned(),
                arn: arn.to_owned(),
                version: found.and_then(|(v, _)| v.clone()),
            },
            document: found.and_then(|(_, d)| d.clone()),
        });
    }
    Ok(Role {
        name: name.to_owned(),
        path: r.path().unwrap_or("/").to_owned(),
        arn: r.arn().unwrap_or_default().to_owned(),
        trust,
        permissions,
        boundary: r
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
    })
}
