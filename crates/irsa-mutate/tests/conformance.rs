//! Conformance runner for pod fixtures (`*.pod.yaml`) in the format of
//! `../shared/conformance/README.md`, plus this project's extensions (see
//! `tests/fixtures/README.md`).
//!
//! Reads `tests/fixtures/` and every folder in `IRSA_WEBHOOK_FIXTURES`
//! (colon-separated). Each fixture is one test, named `fixtures/<path>` (own fixtures) or by
//! its path (extra folders), so `cargo test` names a failing fixture and accepts a name
//! filter; a fixture marked `testing.eks.amazonaws.com/skip` is an ignored test; a folder
//! holding no fixture fails.
//!
//! Own fixtures are compared strictly (the patch ops must equal the expected ops).
//! External fixtures carry Go encoder artifacts, so they are compared semantically:
//! both patches are applied to the input pod and the results compared after removing
//! `null` members, empty `resources` objects and empty-string members (Go's zero
//! value of non-omitempty fields); and a member that only our result has is accepted
//! when the input pod has the same member with the same value at the same place
//! (a field the reference's Go types did not know and dropped).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libtest_mimic::{Arguments, Trial};

use irsa_mutate::*;
use serde_json::{Map, Value};

const T: &str = "testing.eks.amazonaws.com/";

fn main() -> ExitCode {
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut folders = vec![(own.clone(), true)];
    folders.extend(
        irsa_test::extra_dirs("IRSA_WEBHOOK_FIXTURES")
            .into_iter()
            .map(|d| (d, false)),
    );
    let mut trials = Vec::new();
    for (folder, strict) in folders {
        let mut files = Vec::new();
        walk(&folder, &mut files);
        files.sort();
        if files.is_empty() {
            let name = folder.display().to_string();
            trials.push(Trial::test(name, move || {
                Err(format!(
                    "{}: no *.pod.yaml fixtures in this folder",
                    folder.display()
                )
                .into())
            }));
            continue;
        }
        for file in files {
            let name = match file.strip_prefix(&own) {
                Ok(rel) if strict => format!("fixtures/{}", rel.display()),
                _ => file.display().to_string(),
            };
            let ignored = is_skipped(&file);
            let trial = Trial::test(name, move || match run_fixture(&file, strict) {
                Outcome::Ok => Ok(()),
                Outcome::Skipped(reason) => {
                    Err(format!("{}: skipped at run time ({reason})", file.display()).into())
                }
                Outcome::Fail(diff) => Err(format!("{}: {diff}", file.display()).into()),
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

/// Whether a fixture is marked `testing.eks.amazonaws.com/skip: "true"` (an ignored test).
fn is_skipped(file: &Path) -> bool {
    load(file).is_ok_and(|(_, ann)| {
        ann.get(&format!("{T}skip")).and_then(|v| parse_go_bool(v)) == Some(true)
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".pod.yaml") || n.ends_with(".pod.yml"))
        {
            out.push(path);
        }
    }
}

enum Outcome {
    Ok,
    Skipped(String),
    Fail(String),
}

/// Annotation values as strings (YAML may have typed an unquoted scalar).
fn annotations(pod: &Value) -> BTreeMap<String, String> {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn run_fixture(file: &Path, strict: bool) -> Outcome {
    match evaluate(file, strict) {
        Ok(o) => o,
        Err(e) => Outcome::Fail(e),
    }
}

/// A fixture's pod (its first YAML document) and its annotations.
fn load(file: &Path) -> Result<(Value, BTreeMap<String, String>), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    // YAML 1.2 booleans: `yes` stays a string. A repeated key keeps its last value, as
    // sigs.k8s.io/yaml (go-yaml v2, non-strict) reads the upstream fixtures; one upstream
    // fixture (rawPodWithInitContainer) repeats `serviceAccountName`.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, options)
        .map_err(|e| format!("yaml: {e}"))?;
    let pod = docs.into_iter().next().ok_or("empty yaml")?;
    let ann = annotations(&pod);
    Ok((pod, ann))
}

fn evaluate(file: &Path, strict: bool) -> Result<Outcome, String> {
    let (pod, ann) = load(file)?;
    let t = |k: &str| ann.get(&format!("{T}{k}")).map(String::as_str);

    if t("skip").and_then(parse_go_bool) == Some(true) {
        let reason = t("skipReason").unwrap_or("testing.eks.amazonaws.com/skip is true");
        return Ok(Outcome::Skipped(reason.to_string()));
    }

    let mut settings = handler_settings(t)?;
    let namespace = t("namespace").unwrap_or("default").to_string();
    let service_account = t("serviceAccountName").unwrap_or("default").to_string();
    let cc = container_credentials(t, &mut settings, &namespace, &service_account)?;
    let sa = service_account_entry(t, &settings)?;
    let cm = t("configMap")
        .map(ConfigMapConfig::parse)
        .transpose()
        .map_err(|e| format!("configMap: {e}"))?;

    let decision = resolve(
        &Lookup {
            namespace: &namespace,
            service_account: &service_account,
            service_account_config: sa.as_ref(),
            config_map: cm.as_ref(),
            container_credentials: cc.as_ref(),
        },
        &settings,
    );
    if let Some(want) = t("expectedDecision") {
        let got = format!("{decision:?}");
        if !got.starts_with(want) {
            return Ok(Outcome::Fail(format!(
                "decision: expected `{want}…`, got `{got}`"
            )));
        }
    }
    let rng_value: u64 = match t("rng") {
        Some(v) => v.parse().map_err(|_| format!("bad rng `{v}`"))?,
        None => 0,
    };
    let mut rng = rand::rngs::mock::StepRng::new(rng_value, 0);
    let actual =
        mutate(&pod, &decision, &settings, &mut rng).map_err(|e| format!("mutate: {e}"))?;

    let expected = match t("expectedPatch") {
        None => None,
        Some(s) => {
            Some(serde_json::from_str::<Value>(s).map_err(|e| format!("expectedPatch: {e}"))?)
        }
    };
    let actual_json = actual
        .as_ref()
        .map(|ops| serde_json::to_value(ops).unwrap_or(Value::Null));
    compare(&pod, expected, actual_json, strict, &decision)
}

/// The handler's flags the fixture sets (`handler/*`), over the defaults.
fn handler_settings<'a>(t: impl Fn(&str) -> Option<&'a str>) -> Result<Settings, String> {
    let mut settings = Settings::default();
    if let Some(v) = t("handler/mountPath") {
        settings.token_mount_path = v.into();
    }
    if let Some(v) = t("handler/region") {
        settings.aws_default_region = v.into();
    }
    if let Some(v) = t("handler/annotationPrefix") {
        settings.annotation_prefix = v.into();
    }
    if let Some(v) = t("handler/tokenAudience") {
        settings.token_audience = v.into();
    }
    if let Some(v) = t("handler/tokenExpiration") {
        let n: i64 = v
            .parse()
            .map_err(|_| format!("bad handler/tokenExpiration `{v}`"))?;
        settings.token_expiration = clamp_token_expiration(n);
    }
    if let Some(v) = t("handler/regionAllPods") {
        settings.region_all_pods =
            parse_go_bool(v).ok_or(format!("bad handler/regionAllPods `{v}`"))?;
    }
    if let Some(v) = t("handler/stsRegionalEndpoint") {
        settings.sts_regional_endpoint =
            parse_go_bool(v).ok_or(format!("bad handler/stsRegionalEndpoint `{v}`"))?;
    }
    if let Some(v) = t("handler/composeRoleArn") {
        let (partition, account_id) = v
            .split_once(':')
            .ok_or("handler/composeRoleArn: partition:account")?;
        settings.compose_role_arn = Some(ComposeRoleArn {
            partition: partition.into(),
            account_id: account_id.into(),
        });
    }

    Ok(settings)
}

/// The container-credentials configuration of the fixture (`containercredentials/*`), its
/// settings written into `settings`: from the annotations alone (`uri`), or a file
/// (`config`) with the annotations over the flags.
fn container_credentials<'a>(
    t: impl Fn(&str) -> Option<&'a str>,
    settings: &mut Settings,
    namespace: &str,
    service_account: &str,
) -> Result<Option<ContainerCredentialsConfig>, String> {
    let cc_uri = t("containercredentials/uri").filter(|u| !u.is_empty());
    let cc_file = t("containercredentials/config");
    if let Some(uri) = cc_uri {
        // Reference fixture semantics: every CC setting comes from the annotations.
        let g = |k: &str| {
            t(&format!("containercredentials/{k}"))
                .unwrap_or("")
                .to_string()
        };
        settings.container_credentials_full_uri = uri.into();
        settings.container_credentials_audience = g("audience");
        settings.container_credentials_token_mount_path = g("mountPath");
        settings.container_credentials_token_volume_name = g("volumeName");
        settings.container_credentials_token_path = g("tokenPath");
        Ok(Some(ContainerCredentialsConfig::from_identities([
            Identity {
                namespace: namespace.into(),
                service_account: service_account.into(),
            },
        ])))
    } else if let Some(file) = cc_file {
        let set = |k: &str, field: &mut String| {
            if let Some(v) = t(&format!("containercredentials/{k}")) {
                *field = v.into();
            }
        };
        set("audience", &mut settings.container_credentials_audience);
        set(
            "mountPath",
            &mut settings.container_credentials_token_mount_path,
        );
        set(
            "volumeName",
            &mut settings.container_credentials_token_volume_name,
        );
        set("tokenPath", &mut settings.container_credentials_token_path);
        set("fullUri", &mut settings.container_credentials_full_uri);
        ContainerCredentialsConfig::parse(file)
            .map(Some)
            .map_err(|e| format!("containercredentials/config: {e}"))
    } else {
        Ok(None)
    }
}

/// The ServiceAccount cache entry of the fixture (`serviceAccount/*`): absent, read from
/// its annotations, or the reference fixture's fake cache entry.
fn service_account_entry<'a>(
    t: impl Fn(&str) -> Option<&'a str>,
    settings: &Settings,
) -> Result<Option<ServiceAccountConfig>, String> {
    if t("serviceAccount/absent").and_then(parse_go_bool) == Some(true) {
        Ok(None)
    } else if let Some(json) = t("serviceAccount/annotations") {
        let real: BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| format!("serviceAccount/annotations: {e}"))?;
        Ok(Some(ServiceAccountConfig::from_annotations(
            &real, settings,
        )))
    } else {
        // The reference fixture's fake cache: values as is, no clamping.
        let sts = t("serviceAccount/sts-regional-endpoints")
            .or(t("handler/injectSTS"))
            .and_then(parse_go_bool)
            .unwrap_or(false);
        let exp = t("serviceAccount/token-expiration")
            .or(t("handler/expiration"))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(DEFAULT_TOKEN_EXPIRATION);
        Ok(Some(ServiceAccountConfig {
            role_arn: t("serviceAccount/roleArn")
                .filter(|a| !a.is_empty())
                .map(Into::into),
            audience: t("serviceAccount/audience")
                .unwrap_or("sts.amazonaws.com")
                .into(),
            use_regional_sts: sts,
            token_expiration: exp,
            region: None,
            role_session_name: None,
        }))
    }
}

/// Compares our patch `actual` of `pod` with the fixture's `expected` one: to the letter
/// when `strict`, else by the pods they make.
fn compare(
    pod: &Value,
    expected: Option<Value>,
    actual_json: Option<Value>,
    strict: bool,
    decision: &Decision,
) -> Result<Outcome, String> {
    match (expected, actual_json) {
        (None, None) => Ok(Outcome::Ok),
        (None, Some(a)) => Ok(Outcome::Fail(format!("expected no patch, got {a}"))),
        (Some(e), None) => Ok(Outcome::Fail(format!(
            "expected patch {e}, got none ({decision:?})"
        ))),
        (Some(e), Some(a)) if strict => {
            if e == a {
                Ok(Outcome::Ok)
            } else {
                let d = first_diff(&e, &a, "").unwrap_or_default();
                Ok(Outcome::Fail(format!(
                    "patch differs at {d}\n  expected {e}\n  actual   {a}"
                )))
            }
        }
        (Some(e), Some(a)) => {
            let want = apply(pod, &e).map_err(|err| format!("applying expectedPatch: {err}"))?;
            let got = apply(pod, &a).map_err(|err| format!("applying our patch {a}: {err}"))?;
            let (mut want, mut got) = (want, got);
            normalize(&mut want);
            normalize(&mut got);
            let mut input = pod.clone();
            normalize(&mut input);
            drop_carried_extras(&mut got, &want, &input, "");
            if want == got {
                Ok(Outcome::Ok)
            } else {
                let d = first_diff(&want, &got, "").unwrap_or_default();
                Ok(Outcome::Fail(format!(
                    "resulting pod differs at {d}\n  our patch {a}"
                )))
            }
        }
    }
}

fn apply(pod: &Value, patch: &Value) -> Result<Value, String> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| e.to_string())?;
    let mut doc = pod.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| e.to_string())?;
    Ok(doc)
}

/// Removes `null` members, empty-string members and empty `resources` objects.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, v| {
                !(v.is_null()
                    || v.as_str() == Some("")
                    || (k == "resources" && v.as_object().is_some_and(Map::is_empty)))
            });
            m.values_mut().for_each(normalize);
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Removes members of `got` that `want` lacks when `input` has them, equal, at the same
/// place: fields carried over unchanged that the reference's Go types dropped.
fn drop_carried_extras(got: &mut Value, want: &Value, input: &Value, at: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            g.retain(|k, v| {
                w.contains_key(k)
                    || input.pointer(&format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")))
                        != Some(v)
            });
            for (k, gv) in g.iter_mut() {
                if let Some(wv) = w.get(k) {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    drop_carried_extras(gv, wv, input, &p);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            for (i, (gv, wv)) in g.iter_mut().zip(w).enumerate() {
                drop_carried_extras(gv, wv, input, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

/// The first JSON Pointer where `a` and `b` differ, with both values.
fn first_diff(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, xv) in x {
                let p = format!("{at}/{k}");
                match y.get(k) {
                    None => return Some(format!("{p}: expected {xv}, missing")),
                    Some(yv) => {
                        if let Some(d) = first_diff(xv, yv, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, yv)| format!("{at}/{k}: unexpected {yv}"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (xv, yv))| first_diff(xv, yv, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!(
            "{}: expected {a}, got {b}",
            if at.is_empty() { "/" } else { at }
        )),
    }
}
