//! `irsa demo`: the IRSA chain walked step by step in the terminal, entirely on this machine:
//! manifests, the webhook's mutation, the token, the trust-policy decision, the exchange for
//! credentials by a real SDK call, DynamoDB and S3 through the gateway, and a refused pod.
//!
//! Every step checks that it behaved as the story says; the exit code is 0 only when all
//! did, so the demo doubles as a smoke test of the whole chain.

use crate::up::stack::{self, Listen, ServiceAccountRef, Spec, Stack, UpstreamMode};
use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sts::error::ProvideErrorMetadata as _;
use clap::Args as ClapArgs;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

mod show;

use show::Out;

#[derive(ClapArgs)]
pub struct Args {
    /// A DynamoDB-compatible endpoint (DynamoDB Local, dynalite, ...) for the allowed read.
    /// The demo creates the table `my-table` there (directly, with the upstream's
    /// credentials) when it is missing. Without one the read is allowed by policy but has no
    /// table to reach, and the demo says so.
    #[arg(long, value_name = "URL", env = "IRSA_DEMO_DYNAMODB_UPSTREAM")]
    dynamodb_upstream: Option<String>,
    /// An S3-compatible endpoint for the allowed S3 read (path-style; its credentials in
    /// IRSA_GATEWAY_S3_UPSTREAM_ACCESS_KEY_ID / IRSA_GATEWAY_S3_UPSTREAM_SECRET_ACCESS_KEY).
    /// The demo creates the bucket `my-bucket` there and puts `reports/hello.txt` (directly,
    /// with the upstream's credentials). Without one the read is allowed by policy but has
    /// no bucket to reach, and the demo says so.
    #[arg(long, value_name = "URL", env = "IRSA_DEMO_S3_UPSTREAM")]
    s3_upstream: Option<String>,
    /// Never color the output (it is not colored anyway when stdout is not a terminal or
    /// NO_COLOR is set).
    #[arg(long)]
    no_color: bool,
}

const NAMESPACE: &str = "default";
const SA: &str = "my-serviceaccount";
const OTHER_SA: &str = "other-serviceaccount";
const TABLE: &str = "my-table";
const BUCKET: &str = "my-bucket";
/// The object the role may read (under `reports/`) and the one it may not write.
const REPORT_KEY: &str = "reports/hello.txt";
const INTRUDER_KEY: &str = "reports/intruder.txt";
const REPORT_TEXT: &str = "a report, read through irsa gateway\n";
const SESSION: &str = "my-app";

/// Runs the demo; exit 0 when every step behaved as the story says, 1 otherwise.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let color = !args.no_color
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let runtime = crate::common::runtime()?;
    let mut out = Out::new(color);
    let result = runtime.block_on(demo(&mut out, args.dynamodb_upstream, args.s3_upstream));
    out.flush();
    result?;
    Ok(out.finish())
}

async fn demo(
    out: &mut Out,
    upstream: Option<String>,
    s3_upstream: Option<String>,
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("irsa-demo-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let stack = Stack::start(Spec {
        config_text: stack::DEFAULT_CONFIG,
        config_origin: "the embedded default".into(),
        config_dir: None,
        listen: Listen {
            issuer: "127.0.0.1:0".into(),
            sts: "127.0.0.1:0".into(),
            gateway: "127.0.0.1:0".into(),
        },
        state_dir: &dir.path().join("state"),
        upstream_url: upstream.filter(|u| !u.is_empty()),
        s3_upstream_url: s3_upstream.filter(|u| !u.is_empty()),
    })
    .await?;
    out.title("irsa demo: IAM Roles for Service Accounts, step by step, on this machine");
    out.say(&format!(
        "Running in this process, on 127.0.0.1: an OIDC issuer playing the cluster's \
         ({}), an STS endpoint ({}) and a gateway for DynamoDB and S3 ({}). No cluster, no \
         AWS account, no network.",
        stack.issuer_url, stack.sts_url, stack.gateway_url
    ));
    let r = steps(out, &stack, dir.path()).await;
    stack.shutdown(Duration::from_secs(10)).await?;
    r
}

async fn steps(out: &mut Out, stack: &Stack, dir: &Path) -> anyhow::Result<()> {
    let region = stack.config.region.clone();
    let settings = irsa_mutate::Settings {
        aws_default_region: region.clone(),
        ..irsa_mutate::Settings::default()
    };
    let (sa, app_pod) = step_manifests(out, &stack.up.role_arn)?;
    let (audience, lifetime) = step_webhook(out, stack, &sa, &app_pod, &settings)?;
    let (token, token_file) = step_token(out, stack, dir, &audience, lifetime).await?;
    let (role, provider) = step_trust(out, stack, &audience)?;
    let clients = clients(stack, &token_file, &region).await;
    step_exchange(out, stack, &clients, &token, role).await;
    // 6. DynamoDB through the gateway.
    out.step("DynamoDB through the gateway: an allowed read, a denied write");
    out.say(&format!(
        "With AWS_ENDPOINT_URL_DYNAMODB={} the SDK sends DynamoDB calls to the gateway, \
         which verifies the SigV4 signature of the session, maps the call to an IAM action \
         and resource, evaluates the role's permission policy and forwards only what it \
         allows.",
        stack.gateway_url
    ));
    dynamodb_step(out, stack, &clients.ddb, role).await?;
    // 7. S3 through the same gateway.
    out.step("S3 through the same gateway: an allowed read, a denied write");
    out.say(&format!(
        "With AWS_ENDPOINT_URL_S3={} (the same endpoint: the gateway tells S3 from DynamoDB \
         by the service in the signature's credential scope) the SDK's S3 calls get the same \
         treatment, by S3's rules: the signature and the body as it streams, the bucket and \
         key as S3 reads them, the role's policy for objects under `{BUCKET}/reports/`.",
        stack.gateway_url
    ));
    s3_step(out, stack, &clients.s3, role).await?;
    step_refused(
        out,
        stack,
        &clients,
        &settings,
        (role, provider),
        (&audience, lifetime),
    )
    .await
}

/// Where the webhook mounts the projected token.
const TOKEN_FILE: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";

/// The ServiceAccount of the story's application.
fn app_ref() -> ServiceAccountRef {
    ServiceAccountRef {
        namespace: NAMESPACE.into(),
        name: SA.into(),
    }
}

/// Step 1: the annotated ServiceAccount and the application's pod.
fn step_manifests(out: &mut Out, role_arn: &str) -> anyhow::Result<(Value, Value)> {
    // 1. Manifests.
    out.step("The ServiceAccount and the pod");
    out.say(
        "The platform team annotates a ServiceAccount with the IAM role its pods may use. \
         The application's pod only names the ServiceAccount: no keys anywhere.",
    );
    let sa = service_account(SA, role_arn);
    let app_pod = pod("my-app", SA);
    out.code(&format!("{}\n---\n{}", to_yaml(&sa)?, to_yaml(&app_pod)?));
    Ok((sa, app_pod))
}

/// Step 2: the webhook's mutation; the projected token's audience and lifetime.
fn step_webhook(
    out: &mut Out,
    stack: &Stack,
    sa: &Value,
    app_pod: &Value,
    settings: &irsa_mutate::Settings,
) -> anyhow::Result<(String, i64)> {
    // 2. The webhook.
    out.step("The webhook mutates the pod");
    out.say(
        "At admission, the pod identity webhook (`irsa webhook`; this is its mutation, \
         crate irsa-mutate) sees the annotation and adds the role, the token file, the \
         region and a projected ServiceAccount token volume:",
    );
    let mutated = mutate(app_pod, sa, settings)?;
    out.diff(
        &format!("{}\n", to_yaml(app_pod)?),
        &format!("{}\n", to_yaml(&mutated)?),
    );
    let env = container_env(&mutated);
    let (audience, lifetime) = projected_token(&mutated).unwrap_or_default();
    out.check(
        env.get("AWS_ROLE_ARN") == Some(&stack.up.role_arn)
            && env.get("AWS_WEB_IDENTITY_TOKEN_FILE").map(String::as_str) == Some(TOKEN_FILE)
            && audience == stack.up.audience,
        &format!(
            "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE set; token volume for audience `{audience}`"
        ),
        "the mutated pod lacks the role, the token file or the token volume",
    );
    Ok((audience, lifetime))
}

/// Step 3: the token kubelet would mount, written to a file in `dir`.
async fn step_token(
    out: &mut Out,
    stack: &Stack,
    dir: &Path,
    audience: &str,
    lifetime: i64,
) -> anyhow::Result<(String, std::path::PathBuf)> {
    // 3. The token.
    out.step("The token kubelet mounts");
    out.say(&format!(
        "kubelet asks the API server for a token for the volume's audience and lifetime \
         ({lifetime} s), bound to the pod, and mounts it at {TOKEN_FILE}. The issuer signs \
         it. Decoded, as jwt.io shows it:"
    ));
    let pod_uid = uuid::Uuid::new_v4().to_string();
    let token = stack.mint(
        &app_ref(),
        audience,
        lifetime.max(600),
        Some(("my-app", &pod_uid)),
    )?;
    let token_file = dir.join("token");
    stack::write_private(&token_file, token.as_bytes())?;
    show_token(out, stack, &token, audience).await;
    Ok((token, token_file))
}

/// Step 4: the role's trust policy evaluated with the token's claims.
fn step_trust<'s>(
    out: &mut Out,
    stack: &'s Stack,
    audience: &str,
) -> anyhow::Result<(&'s irsa_sts_core::Role, &'s irsa_sts_core::Provider)> {
    // 4. The trust policy.
    out.step("The trust policy decides");
    let role = stack
        .config
        .role(&stack.up.role_arn)
        .context("the role of the story is missing from the configuration")?;
    out.say(&format!(
        "STS will look up role `{}` and evaluate its trust policy with the token's claims as \
         condition keys. The trust policy:",
        role.name
    ));
    out.code(&role.trust_policy.policy.to_json_pretty());
    let provider = stack
        .config
        .provider(&stack.issuer_url)
        .context("the local issuer is not a registered provider")?;
    let subject = app_ref().subject();
    let req = trust_request(provider, &stack.up.role_arn, &subject, audience);
    out.say("The request, as the policy engine sees it:");
    out.code(&serde_json::to_string_pretty(&json!({
        "action": req.action,
        "resource": req.resource,
        "principal": req.principal,
        "context": {
            format!("{}:sub", provider.key_prefix): subject,
            format!("{}:aud", provider.key_prefix): audience,
            "aws:FederatedProvider": provider.arn,
        },
    }))?);
    let eval = irsa_policy::evaluate_trust(&role.trust_policy.policy, &req);
    let sids: Vec<String> = eval
        .matched
        .iter()
        .map(|m| {
            format!(
                "statement {} (Sid `{}`)",
                m.statement,
                m.sid.as_deref().unwrap_or("")
            )
        })
        .collect();
    out.check(
        eval.decision == irsa_policy::Decision::Allow && !sids.is_empty(),
        &format!("Allow, by {}", sids.join(", ")),
        &format!("expected Allow, got {:?}", eval.decision),
    );
    Ok((role, provider))
}

/// Step 5: AssumeRoleWithWebIdentity and GetCallerIdentity by a real SDK.
/// Shows what AssumeRoleWithWebIdentity answered (never the secrets); whether it gave
/// temporary credentials.
fn show_assumed(
    out: &mut Out,
    o: &aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
) -> bool {
    let mut have_credentials = false;
    let mut lines = Vec::new();
    if let Some(u) = o.assumed_role_user() {
        lines.push(format!("AssumedRoleUser.Arn:         {}", u.arn()));
    }
    if let Some(c) = o.credentials() {
        have_credentials = c.access_key_id().starts_with("ASIA");
        lines.push(format!(
            "AccessKeyId:                 {}",
            c.access_key_id()
        ));
        lines.push("SecretAccessKey, SessionToken: received (never printed)".to_owned());
        lines.push(format!("Expiration:                  {}", c.expiration()));
    }
    lines.push(format!(
        "SubjectFromWebIdentityToken: {}",
        o.subject_from_web_identity_token().unwrap_or("")
    ));
    lines.push(format!(
        "Audience:                    {}",
        o.audience().unwrap_or("")
    ));
    lines.push(format!(
        "Provider:                    {}",
        o.provider().unwrap_or("")
    ));
    out.code(&lines.join("\n"));
    have_credentials
}

async fn step_exchange(
    out: &mut Out,
    stack: &Stack,
    clients: &Clients,
    token: &str,
    role: &irsa_sts_core::Role,
) {
    // 5. The exchange.
    out.step("The exchange for credentials, by a real SDK call");
    out.say(&format!(
        "The application's AWS SDK (here aws-sdk-rust) finds AWS_ROLE_ARN and \
         AWS_WEB_IDENTITY_TOKEN_FILE and calls AssumeRoleWithWebIdentity at \
         AWS_ENDPOINT_URL_STS={}. STS fetches the issuer's keys by OIDC discovery, verifies \
         the token and evaluates the trust policy:",
        stack.sts_url
    ));
    let assumed = clients
        .sts_anon
        .assume_role_with_web_identity()
        .role_arn(&stack.up.role_arn)
        .role_session_name(SESSION)
        .web_identity_token(token)
        .send()
        .await;
    let have_credentials = match assumed {
        Ok(o) => show_assumed(out, &o),
        Err(e) => {
            out.code(&sdk_error_text(&e));
            false
        }
    };
    out.say(
        "As the SDK's web-identity credentials provider does this by itself, the \
         application just makes calls; GetCallerIdentity, signed with the credentials:",
    );
    let who = clients.sts.get_caller_identity().send().await;
    let want_arn = format!(
        "arn:{}:sts::{}:assumed-role/{}/{SESSION}",
        stack.config.partition, stack.config.account, role.name
    );
    match &who {
        Ok(o) => out.code(&format!(
            "Arn:     {}\nUserId:  {}\nAccount: {}",
            o.arn().unwrap_or(""),
            o.user_id().unwrap_or(""),
            o.account().unwrap_or("")
        )),
        Err(e) => out.code(&sdk_error_text(e)),
    }
    out.check(
        have_credentials && who.as_ref().is_ok_and(|o| o.arn() == Some(&want_arn)),
        &format!("temporary credentials for `{want_arn}`"),
        "the exchange did not give the role's credentials",
    );
}

/// Step 8: a pod of another ServiceAccount is mutated alike but refused by STS.
async fn step_refused(
    out: &mut Out,
    stack: &Stack,
    clients: &Clients,
    settings: &irsa_mutate::Settings,
    (role, provider): (&irsa_sts_core::Role, &irsa_sts_core::Provider),
    (audience, lifetime): (&str, i64),
) -> anyhow::Result<()> {
    // 8. The refused pod.
    out.step("A pod whose ServiceAccount the trust policy does not name");
    out.say(&format!(
        "Someone annotates another ServiceAccount, `{OTHER_SA}`, with the same role. The \
         webhook mutates its pod just the same (it does not judge trust), kubelet mounts a \
         token for it, and the SDK asks STS:"
    ));
    let other_sa = service_account(OTHER_SA, &stack.up.role_arn);
    let other_pod = pod("other-app", OTHER_SA);
    out.code(&to_yaml(&other_sa)?);
    let other_mutated = mutate(&other_pod, &other_sa, settings)?;
    let other_ref = ServiceAccountRef {
        namespace: NAMESPACE.into(),
        name: OTHER_SA.into(),
    };
    let other_token = stack.mint(
        &other_ref,
        audience,
        lifetime.max(600),
        Some(("other-app", &uuid::Uuid::new_v4().to_string())),
    )?;
    let refused = clients
        .sts_anon
        .assume_role_with_web_identity()
        .role_arn(&stack.up.role_arn)
        .role_session_name("other-app")
        .web_identity_token(&other_token)
        .send()
        .await;
    let (code, message) = match &refused {
        Ok(_) => (String::new(), "STS granted credentials".to_owned()),
        Err(e) => (
            e.code().unwrap_or_default().to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    };
    out.code(&format!("{code}: {message}"));
    let other_subject = other_ref.subject();
    let other_eval = irsa_policy::evaluate_trust(
        &role.trust_policy.policy,
        &trust_request(provider, &stack.up.role_arn, &other_subject, audience),
    );
    out.say(&format!(
        "Why: the trust policy's decision is {:?}: {}",
        other_eval.decision,
        why_not(
            &role.trust_policy.policy.to_value(),
            &provider.key_prefix,
            &other_subject
        )
    ));
    out.check(
        container_env(&other_mutated).get("AWS_ROLE_ARN") == Some(&stack.up.role_arn)
            && code == "AccessDenied"
            && message.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity")
            && other_eval.decision != irsa_policy::Decision::Allow,
        &format!("refused: {code}"),
        "the other ServiceAccount was not refused with AccessDenied",
    );
    Ok(())
}

/// Shows the token as jwt.io does: header, payload, and whether the signature verifies
/// with the issuer's published keys (found by OIDC discovery, over TLS).
async fn show_token(out: &mut Out, stack: &Stack, token: &str, audience: &str) {
    let Ok(t) = irsa_jose::peek(token) else {
        out.check(false, "", "the minted token does not parse");
        return;
    };
    out.say(&format!(
        "Encoded: three base64url parts, {} characters (not printed: a token is a credential).",
        token.len()
    ));
    out.label("HEADER: ALGORITHM & TOKEN TYPE");
    out.code(&serde_json::to_string_pretty(&t.header).unwrap_or_default());
    out.label("PAYLOAD: DATA");
    out.code(&serde_json::to_string_pretty(&t.claims).unwrap_or_default());
    let times: Vec<String> = ["iat", "exp"]
        .iter()
        .filter_map(|c| {
            let v = t.claims.get(*c)?.as_i64()?;
            let at = time::OffsetDateTime::from_unix_timestamp(v).ok()?;
            let s = at
                .format(&time::format_description::well_known::Rfc3339)
                .ok()?;
            Some(format!("{c} = {s}"))
        })
        .collect();
    out.say(&times.join(", "));
    out.label("VERIFY SIGNATURE");
    let client = irsa_oidc::JwksClient::new(irsa_oidc::ClientConfig {
        ca_bundle_pem: Some(stack.ca_pem.clone().into_bytes()),
        ..irsa_oidc::ClientConfig::default()
    });
    let fetched = match client {
        Ok(c) => c
            .discover(&stack.issuer_url)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match fetched {
        Ok((doc, jwks)) => {
            let audiences = [audience.to_owned()];
            let v = irsa_jose::Validation::new(&stack.issuer_url, &audiences, stack::unix_now());
            let verified = irsa_jose::verify(token, &jwks, &v);
            out.say(&format!(
                "Keys fetched as STS fetches them: {} → jwks_uri {}",
                irsa_jose::DiscoveryDocument::url_for_issuer(&stack.issuer_url),
                doc.jwks_uri
            ));
            out.check(
                verified.is_ok(),
                &format!(
                    "Signature Verified ({} key `{}`)",
                    t.alg().unwrap_or(""),
                    stack.kid()
                ),
                &format!(
                    "Invalid Signature: {}",
                    verified.err().map(|e| e.detail()).unwrap_or_default()
                ),
            );
        }
        Err(e) => out.check(false, "", &format!("cannot fetch the issuer's keys: {e}")),
    }
}

/// Says where the DynamoDB calls go and prepares the upstream's table; whether it is
/// ready.
async fn dynamodb_upstream_ready(out: &mut Out, stack: &Stack) -> bool {
    match &stack.upstream {
        UpstreamMode::Url(url) => {
            out.say(&format!(
                "Upstream: {url}. Setting up: table `{TABLE}` with one item, created there \
                 directly with the upstream's own credentials (the role may not write)."
            ));
            prepared(out, "table", prepare_table(stack, url).await)
        }
        UpstreamMode::None => {
            out.say(&format!(
                "No DynamoDB upstream is configured (give --dynamodb-upstream URL or \
                 IRSA_DEMO_DYNAMODB_UPSTREAM for one), so the allowed read has no table to \
                 reach: the gateway allows it and then answers `{}`. The denied write is \
                 decided by policy alone.",
                stack::NO_UPSTREAM_CODE
            ));
            false
        }
    }
}

async fn dynamodb_step(
    out: &mut Out,
    stack: &Stack,
    ddb: &aws_sdk_dynamodb::Client,
    role: &irsa_sts_core::Role,
) -> anyhow::Result<()> {
    let table_arn = format!(
        "arn:{}:dynamodb:{}:{}:table/{TABLE}",
        stack.config.partition, stack.config.region, stack.config.account
    );
    let decide = |action: &str| decide(role, action, &table_arn);

    // The read.
    let (read_decision, read_by) = decide("dynamodb:GetItem");
    let upstream_ready = dynamodb_upstream_ready(out, stack).await;
    out.label(&format!(
        "GetItem on {TABLE} (the permission policy says {read_decision:?}, by {read_by}):"
    ));
    let got = ddb
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S("hello".into()))
        .send()
        .await;
    let read_ok = match (&got, &stack.upstream) {
        (Ok(o), UpstreamMode::Url(_)) => {
            let item = o.item().map(|i| {
                i.iter()
                    .map(|(k, v)| (k.clone(), attr_json(v)))
                    .collect::<BTreeMap<String, Value>>()
            });
            out.code(&format!(
                "Item: {}",
                item.map_or(Value::Null, |m| Value::Object(m.into_iter().collect()))
            ));
            upstream_ready && o.item().is_some()
        }
        (Ok(_), UpstreamMode::None) => false,
        (Err(e), upstream) => read_refused(out, e, upstream),
    };
    out.check(
        read_ok && read_decision == irsa_policy::Decision::Allow,
        match stack.upstream {
            UpstreamMode::Url(_) => "the read was allowed and reached the table",
            UpstreamMode::None => {
                "the read was allowed by policy (no upstream to reach, as said above)"
            }
        },
        "the read did not behave as allowed",
    );

    // The write.
    let (write_decision, _) = decide("dynamodb:PutItem");
    out.label(&format!(
        "PutItem on {TABLE} (the permission policy says {write_decision:?}: no statement allows it):"
    ));
    let put = ddb
        .put_item()
        .table_name(TABLE)
        .item("id", AttributeValue::S("intruder".into()))
        .send()
        .await;
    let code = write_outcome(out, "PutItem", &put);
    out.check(
        code == "AccessDeniedException" && write_decision != irsa_policy::Decision::Allow,
        "the write was denied: AccessDeniedException, in DynamoDB's own error format",
        "the write was not denied with AccessDeniedException",
    );
    Ok(())
}

/// The role's permission policies' decision on `action` on `resource`, and the Sids that
/// made it.
fn decide(
    role: &irsa_sts_core::Role,
    action: &str,
    resource: &str,
) -> (irsa_policy::Decision, String) {
    let identity: Vec<irsa_policy::Policy> = role
        .policies
        .values()
        .map(|p| p.policy.as_ref().clone())
        .collect();
    let e = irsa_policy::evaluate(
        &irsa_policy::EvalInput {
            identity_policies: &identity,
            ..irsa_policy::EvalInput::default()
        },
        &irsa_policy::Request::new(action, resource),
    );
    let by: Vec<String> = e
        .matched
        .iter()
        .map(|m| format!("Sid `{}`", m.sid.as_deref().unwrap_or("")))
        .collect();
    (e.decision, by.join(", "))
}

/// Says where the S3 calls go and prepares the upstream's bucket; whether it is ready.
async fn s3_upstream_ready(out: &mut Out, stack: &Stack) -> bool {
    match &stack.s3_upstream {
        UpstreamMode::Url(url) => {
            out.say(&format!(
                "S3 upstream: {url}. Setting up: bucket `{BUCKET}` with the object \
                 `{REPORT_KEY}`, put there directly with the upstream's own credentials (the \
                 role may not write)."
            ));
            prepared(out, "bucket", prepare_bucket(stack, url).await)
        }
        UpstreamMode::None => {
            out.say(&format!(
                "No S3 upstream is configured (give --s3-upstream URL or IRSA_DEMO_S3_UPSTREAM \
                 for one), so the allowed read has no bucket to reach: the gateway allows it \
                 and then answers `{}`. The denied write is decided by policy alone.",
                stack::NO_UPSTREAM_CODE
            ));
            false
        }
    }
}

async fn s3_step(
    out: &mut Out,
    stack: &Stack,
    s3: &aws_sdk_s3::Client,
    role: &irsa_sts_core::Role,
) -> anyhow::Result<()> {
    let arn = |key: &str| format!("arn:{}:s3:::{BUCKET}/{key}", stack.config.partition);

    // The read.
    let (read_decision, read_by) = decide(role, "s3:GetObject", &arn(REPORT_KEY));
    let upstream_ready = s3_upstream_ready(out, stack).await;
    out.label(&format!(
        "GetObject s3://{BUCKET}/{REPORT_KEY} (the permission policy says {read_decision:?}, by {read_by}):"
    ));
    let got = s3.get_object().bucket(BUCKET).key(REPORT_KEY).send().await;
    let read_ok = match (got, &stack.s3_upstream) {
        (Ok(o), UpstreamMode::Url(_)) => {
            let body = o.body.collect().await.map(|b| b.into_bytes());
            match body {
                Ok(b) => {
                    let text = String::from_utf8_lossy(&b).into_owned();
                    out.code(&format!("Body: {}", text.trim_end()));
                    upstream_ready && text == REPORT_TEXT
                }
                Err(e) => {
                    out.code(&format!("the body did not arrive: {e}"));
                    false
                }
            }
        }
        (Ok(_), UpstreamMode::None) => false,
        (Err(e), upstream) => read_refused(out, &e, upstream),
    };
    out.check(
        read_ok && read_decision == irsa_policy::Decision::Allow,
        match stack.s3_upstream {
            UpstreamMode::Url(_) => "the S3 read was allowed and returned the object",
            UpstreamMode::None => {
                "the S3 read was allowed by policy (no upstream to reach, as said above)"
            }
        },
        "the S3 read did not behave as allowed",
    );

    // The write.
    let (write_decision, _) = decide(role, "s3:PutObject", &arn(INTRUDER_KEY));
    out.label(&format!(
        "PutObject s3://{BUCKET}/{INTRUDER_KEY} (the permission policy says {write_decision:?}: no statement allows it):"
    ));
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key(INTRUDER_KEY)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"intruder"))
        .send()
        .await;
    let code = write_outcome(out, "PutObject", &put);
    out.check(
        code == "AccessDenied" && write_decision != irsa_policy::Decision::Allow,
        "the S3 write was denied: AccessDenied, in S3's own XML error format",
        "the S3 write was not denied with AccessDenied",
    );
    Ok(())
}

/// Creates the bucket on the S3 upstream when missing and puts the object the demo reads.
async fn prepare_bucket(stack: &Stack, url: &str) -> anyhow::Result<()> {
    let creds = stack
        .s3_upstream_credentials
        .clone()
        .context("no S3 upstream credentials")?;
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(stack.config.region.clone()))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            creds.session_token,
            None,
            "irsa-demo-upstream",
        ))
        .build();
    let up = aws_sdk_s3::Client::from_conf(conf);
    let created = up.create_bucket().bucket(BUCKET).send().await;
    if let Err(e) = created
        && !matches!(
            e.code(),
            Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
        )
    {
        anyhow::bail!("CreateBucket: {}", sdk_error_text(&e));
    }
    up.put_object()
        .bucket(BUCKET)
        .key(REPORT_KEY)
        .content_type("text/plain")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            REPORT_TEXT.as_bytes(),
        ))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PutObject: {}", sdk_error_text(&e)))?;
    Ok(())
}

/// Creates the table on the upstream when missing and puts the item the demo reads.
/// Waits (at most 15 s) until the upstream's demo table is ACTIVE.
async fn table_active(up: &aws_sdk_dynamodb::Client) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let d = up.describe_table().table_name(TABLE).send().await;
        let active = d
            .as_ref()
            .ok()
            .and_then(|o| o.table())
            .and_then(|t| t.table_status())
            .is_some_and(|s| s.as_str() == "ACTIVE");
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("table `{TABLE}` not ACTIVE within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn prepare_table(stack: &Stack, url: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, KeySchemaElement, KeyType, ProvisionedThroughput, ScalarAttributeType,
    };
    let creds = stack
        .upstream_credentials
        .clone()
        .context("no upstream credentials")?;
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(
            stack.config.region.clone(),
        ))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            creds.session_token,
            None,
            "irsa-demo-upstream",
        ))
        .build();
    let up = aws_sdk_dynamodb::Client::from_conf(conf);
    let created = up
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()?,
        )
        .send()
        .await;
    if let Err(e) = created
        && e.code() != Some("ResourceInUseException")
    {
        anyhow::bail!("CreateTable: {}", sdk_error_text(&e));
    }
    table_active(&up).await?;
    up.put_item()
        .table_name(TABLE)
        .item("id", AttributeValue::S("hello".into()))
        .item(
            "message",
            AttributeValue::S("read through irsa gateway".into()),
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PutItem: {}", sdk_error_text(&e)))?;
    Ok(())
}

fn attr_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        other => json!(format!("{other:?}")),
    }
}

/// The SDK clients of the application: configured only from what a mutated pod has (the
/// role, the token file, the endpoints, the region), nothing from the user's own AWS setup.
struct Clients {
    /// Unsigned STS client (AssumeRoleWithWebIdentity needs no credentials).
    sts_anon: aws_sdk_sts::Client,
    /// STS signed with the role's credentials.
    sts: aws_sdk_sts::Client,
    /// DynamoDB (the gateway) signed with the role's credentials; no retries.
    ddb: aws_sdk_dynamodb::Client,
    /// S3 (the same gateway) signed with the role's credentials; no retries.
    s3: aws_sdk_s3::Client,
}

async fn clients(stack: &Stack, token_file: &Path, region: &str) -> Clients {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(region.to_owned()))
        .no_credentials()
        .load()
        .await;
    let sts_anon = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .endpoint_url(&stack.sts_url)
            .build(),
    );
    let provider = WebIdentity {
        sts: sts_anon.clone(),
        role_arn: stack.up.role_arn.clone(),
        token_file: token_file.to_owned(),
    };
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .endpoint_url(&stack.sts_url)
            .credentials_provider(provider.clone())
            .build(),
    );
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&base)
            .endpoint_url(&stack.gateway_url)
            .credentials_provider(provider.clone())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    // As a pod's SDK with AWS_ENDPOINT_URL_S3: an IP address as the endpoint's host makes
    // the SDK address buckets path-style.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&base)
            .endpoint_url(&stack.gateway_url)
            .credentials_provider(provider)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    Clients {
        sts_anon,
        sts,
        ddb,
        s3,
    }
}

/// What every SDK's web-identity credentials provider does: read the token file, call
/// AssumeRoleWithWebIdentity, use the temporary credentials.
#[derive(Debug, Clone)]
struct WebIdentity {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    token_file: std::path::PathBuf,
}

impl aws_credential_types::provider::ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        use aws_credential_types::provider::error::CredentialsError;
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let token = std::fs::read_to_string(&self.token_file)
                .map_err(CredentialsError::provider_error)?;
            let out = self
                .sts
                .assume_role_with_web_identity()
                .role_arn(&self.role_arn)
                .role_session_name(SESSION)
                .web_identity_token(token.trim())
                .send()
                .await
                .map_err(|e| CredentialsError::provider_error(sdk_error_text(&e)))?;
            let c = out
                .credentials()
                .ok_or_else(|| CredentialsError::unhandled("no credentials in the answer"))?;
            let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
            Ok(aws_credential_types::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                expiry,
                "irsa-demo-web-identity",
            ))
        })
    }
}

/// Whether the upstream `what` (table, bucket) was prepared; a failure is shown as a
/// failed check.
fn prepared(out: &mut Out, what: &str, r: anyhow::Result<()>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            out.check(
                false,
                "",
                &format!("cannot prepare the upstream {what}: {e:#}"),
            );
            false
        }
    }
}

/// Shows a refused read; without an upstream the gateway's no-upstream answer is the
/// expected one.
fn read_refused<E, R>(
    out: &mut Out,
    e: &aws_sdk_sts::error::SdkError<E, R>,
    upstream: &UpstreamMode,
) -> bool
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    out.code(&sdk_error_text(e));
    matches!(upstream, UpstreamMode::None) && e.code() == Some(stack::NO_UPSTREAM_CODE)
}

/// Shows a write's outcome; its error code (empty when `op` succeeded).
fn write_outcome<T, E, R>(
    out: &mut Out,
    op: &str,
    r: &Result<T, aws_sdk_sts::error::SdkError<E, R>>,
) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match r {
        Ok(_) => {
            out.code(&format!("{op} succeeded"));
            String::new()
        }
        Err(e) => {
            out.code(&sdk_error_text(e));
            e.code().unwrap_or_default().to_owned()
        }
    }
}

fn sdk_error_text<E, R>(e: &aws_sdk_sts::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(c), m) => format!("{c}: {}", m.unwrap_or("")),
        _ => format!("{}", aws_sdk_sts::error::DisplayErrorContext(e)),
    }
}

fn trust_request(
    provider: &irsa_sts_core::Provider,
    role_arn: &str,
    subject: &str,
    audience: &str,
) -> irsa_policy::Request {
    let ctx = irsa_policy::Context::new()
        .with(format!("{}:sub", provider.key_prefix), subject)
        .with(format!("{}:aud", provider.key_prefix), audience)
        .with("aws:FederatedProvider", provider.arn.as_str());
    irsa_policy::Request::new("sts:AssumeRoleWithWebIdentity", role_arn)
        .with_principal(provider.arn.as_str())
        .with_context(ctx)
}

/// Why a subject is not allowed: the `:sub` conditions of the trust policy's Allow
/// statements next to the token's `sub`.
fn why_not(policy: &Value, key_prefix: &str, subject: &str) -> String {
    let sub_key = format!("{key_prefix}:sub").to_ascii_lowercase();
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    };
    let mut parts = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = s.get("Sid").and_then(Value::as_str).map_or_else(
            || format!("statement {i}"),
            |sid| format!("statement `{sid}`"),
        );
        let Some(conds) = s.get("Condition").and_then(Value::as_object) else {
            continue;
        };
        for (op, keys) in conds {
            for (k, v) in keys.as_object().into_iter().flatten() {
                if k.to_ascii_lowercase() == sub_key {
                    let values = match v {
                        Value::Array(a) => a
                            .iter()
                            .map(|x| format!("`{}`", x.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        other => format!("`{}`", other.as_str().unwrap_or_default()),
                    };
                    parts.push(format!("{name} requires {op} `{k}` = {values}"));
                }
            }
        }
    }
    if parts.is_empty() {
        return format!(
            "No Allow statement matches the token's sub `{subject}`; no statement allows it."
        );
    }
    format!(
        "{}; the token's sub is `{subject}`. No statement allows it, so STS answers AccessDenied.",
        parts.join("; ")
    )
}

fn service_account(name: &str, role_arn: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
    })
}

fn pod(name: &str, sa: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "serviceAccountName": sa,
            "containers": [{
                "name": "app",
                "image": "public.ecr.aws/aws-cli/aws-cli:latest",
                "command": ["aws", "dynamodb", "get-item", "--table-name", TABLE,
                            "--key", "{\"id\": {\"S\": \"hello\"}}"],
            }],
        },
    })
}

fn to_yaml(v: &Value) -> anyhow::Result<String> {
    Ok(serde_saphyr::to_string(v)?.trim_end().to_owned())
}

/// The webhook's mutation: resolve the ServiceAccount's settings, compute the JSON Patch,
/// apply it.
fn mutate(pod: &Value, sa: &Value, settings: &irsa_mutate::Settings) -> anyhow::Result<Value> {
    let annotations: BTreeMap<String, String> = sa
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    let sa_config = irsa_mutate::ServiceAccountConfig::from_annotations(&annotations, settings);
    let decision = irsa_mutate::resolve(
        &irsa_mutate::Lookup {
            namespace: NAMESPACE,
            service_account: irsa_mutate::pod_service_account(pod),
            service_account_config: Some(&sa_config),
            config_map: None,
            container_credentials: None,
        },
        settings,
    );
    let patch = irsa_mutate::mutate(pod, &decision, settings, &mut rand::rngs::OsRng)
        .map_err(|e| anyhow::anyhow!("mutation: {e}"))?
        .unwrap_or_default();
    let mut out = pod.clone();
    for op in patch {
        let irsa_mutate::PatchOp::Add { path, value } = op;
        json_patch_add(&mut out, &path, value)?;
    }
    Ok(out)
}

/// RFC 6902 `add`.
fn json_patch_add(doc: &mut Value, path: &str, value: Value) -> anyhow::Result<()> {
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let (parent, last) = path
        .rsplit_once('/')
        .with_context(|| format!("bad patch path `{path}`"))?;
    let target = doc
        .pointer_mut(parent)
        .with_context(|| format!("patch path `{path}` has no parent"))?;
    let last = unescape(last);
    match target {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .with_context(|| format!("bad array index in `{path}`"))?;
                anyhow::ensure!(i <= a.len(), "array index out of range in `{path}`");
                a.insert(i, value);
            }
        }
        _ => anyhow::bail!("patch path `{path}` is not in an object or array"),
    }
    Ok(())
}

/// The first container's environment.
fn container_env(pod: &Value) -> BTreeMap<String, String> {
    pod.pointer("/spec/containers/0/env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e.get("name")?.as_str()?.to_owned(),
                e.get("value")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The projected token volume's (audience, expirationSeconds).
fn projected_token(pod: &Value) -> Option<(String, i64)> {
    pod.pointer("/spec/volumes")?
        .as_array()?
        .iter()
        .filter_map(|v| v.pointer("/projected/sources")?.as_array())
        .flatten()
        .find_map(|s| {
            let t = s.get("serviceAccountToken")?;
            Some((
                t.get("audience")?.as_str()?.to_owned(),
                t.get("expirationSeconds")?.as_i64()?,
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_add() {
        let mut d = json!({"a": [1, 3], "b": {}});
        json_patch_add(&mut d, "/a/1", json!(2)).unwrap();
        json_patch_add(&mut d, "/a/-", json!(4)).unwrap();
        json_patch_add(&mut d, "/b/x~1y", json!(true)).unwrap();
        assert_eq!(d, json!({"a": [1, 2, 3, 4], "b": {"x/y": true}}));
        assert!(json_patch_add(&mut d, "/a/9", json!(0)).is_err());
        assert!(json_patch_add(&mut d, "/nope/x", json!(0)).is_err());
    }

    #[test]
    fn the_webhook_mutation_gives_the_pod_its_identity() {
        let settings = irsa_mutate::Settings {
            aws_default_region: "us-east-1".into(),
            ..irsa_mutate::Settings::default()
        };
        let role = "arn:aws:iam::111122223333:role/allow-read";
        let m = mutate(&pod("p", SA), &service_account(SA, role), &settings).unwrap();
        let env = container_env(&m);
        assert_eq!(env["AWS_ROLE_ARN"], role);
        assert_eq!(env["AWS_REGION"], "us-east-1");
        assert_eq!(
            projected_token(&m),
            Some(("sts.amazonaws.com".to_owned(), 86400))
        );
        // A ServiceAccount without the annotation leaves the pod alone.
        let plain = json!({"metadata": {"name": SA}});
        assert_eq!(
            mutate(&pod("p", SA), &plain, &settings).unwrap(),
            pod("p", SA)
        );
    }

    #[test]
    fn why_not_names_the_condition() {
        let policy = json!({"Statement": [{"Sid": "S", "Effect": "Allow",
            "Condition": {"StringEquals": {"h:sub": "system:serviceaccount:default:a"}}}]});
        let w = why_not(&policy, "h", "system:serviceaccount:default:b");
        assert!(
            w.contains(
                "statement `S` requires StringEquals `h:sub` = `system:serviceaccount:default:a`"
            ),
            "{w}"
        );
        assert!(w.contains("`system:serviceaccount:default:b`"), "{w}");
    }
}
