//! Building the JSON Patch from the raw pod JSON.

use std::borrow::Cow;
use std::collections::BTreeSet;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::raw::{Kind, Members, ObjectWriter, elements, kind, name_of, push_str};

use crate::config::parse_go_int;
use crate::resolve::Decision;
use crate::settings::{Settings, clamp_token_expiration};
use crate::{
    DEFAULT_TOKEN_EXPIRATION, GENERATED_NAME_SUFFIX, INCLUDE_CONTAINERS_ANNOTATION,
    IRSA_TOKEN_PATH, IRSA_VOLUME_NAME, JITTER_MIN_EXPIRATION, MAX_ROLE_SESSION_NAME,
    POD_IDENTITY_LABEL, ROLE_SESSION_NAME_ANNOTATION, ROLE_SESSION_NAME_POD_NAME,
    SKIP_CONTAINERS_ANNOTATION, TOKEN_EXPIRATION_ANNOTATION,
};

/// One JSON Patch (RFC 6902) operation. The webhook only ever adds; serialises as
/// `{"op":"add","path":…,"value":…}`, so `serde_json::to_vec(&ops)` is the
/// AdmissionResponse patch (and `serde_json::from_value::<json_patch::Patch>` accepts it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// `add` at a JSON Pointer (`/spec/volumes/0`, `/spec/containers`, ...).
    Add {
        /// JSON Pointer, with `/` in keys escaped as `~1`.
        path: String,
        /// The value to add.
        value: Value,
    },
}

#[cfg(test)]
impl PatchOp {
    fn add(path: impl Into<String>, value: Value) -> Self {
        PatchOp::Add {
            path: path.into(),
            value,
        }
    }
}

/// The pod JSON does not have the shape of a Pod where the mutation needs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutateError {
    /// A member has the wrong JSON type.
    #[error("pod field `{path}` must be {expected}")]
    Type {
        /// Dotted location, e.g. `spec.containers[1].env`.
        path: String,
        /// `an object`, `an array`, `a string`.
        expected: &'static str,
    },
    /// The text is not JSON.
    #[error("pod is not JSON: {0}")]
    Json(String),
}

fn type_err(path: impl Into<String>, expected: &'static str) -> MutateError {
    MutateError::Type {
        path: path.into(),
        expected,
    }
}

/// The pod's ServiceAccount name: `spec.serviceAccountName`, or `default` when absent or
/// empty (what the ServiceAccount admission plugin, which runs before webhooks, sets).
pub fn pod_service_account(pod: &Value) -> &str {
    pod.pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// Optional object member: absent or `null` is `None`; another non-object is an error.
fn opt_object<'a>(
    obj: &Members<'a>,
    key: &str,
    at: &str,
) -> Result<Option<Members<'a>>, MutateError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => match kind(v) {
            Kind::Null => Ok(None),
            Kind::Object => Members::of(v)
                .map(Some)
                .ok_or_else(|| type_err(format!("{at}{key}"), "an object")),
            _ => Err(type_err(format!("{at}{key}"), "an object")),
        },
    }
}

/// Optional array member: absent or `null` is `None`; another non-array is an error.
fn opt_array<'a>(
    obj: &Members<'a>,
    key: &str,
    at: &str,
) -> Result<Option<Vec<&'a RawValue>>, MutateError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => match kind(v) {
            Kind::Null => Ok(None),
            Kind::Array => elements(v)
                .map(Some)
                .ok_or_else(|| type_err(format!("{at}{key}"), "an array")),
            _ => Err(type_err(format!("{at}{key}"), "an array")),
        },
    }
}

/// A pod as the mutation reads it: its members borrowed from the JSON text, never built
/// into a document tree. What the patch carries over unchanged is copied as written.
#[derive(Debug)]
pub struct Pod<'a> {
    metadata: Option<Members<'a>>,
    annotations: Option<Members<'a>>,
    spec: Members<'a>,
}

impl<'a> Pod<'a> {
    /// Reads a pod from its JSON text: it must be an object with an object `spec`;
    /// `metadata` and `metadata.annotations`, when present and not `null`, objects.
    pub fn parse(json: &'a str) -> Result<Self, MutateError> {
        let raw: &'a RawValue =
            serde_json::from_str(json).map_err(|e| MutateError::Json(e.to_string()))?;
        Self::from_raw(raw)
    }

    /// [`Pod::parse`] of an already validated raw value.
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, MutateError> {
        let pod = Members::of(raw).ok_or_else(|| type_err("(pod)", "an object"))?;
        let metadata = opt_object(&pod, "metadata", "")?;
        let annotations = match &metadata {
            Some(m) => opt_object(m, "annotations", "metadata.")?,
            None => None,
        };
        let spec = match pod.get("spec") {
            Some(v) if kind(v) == Kind::Object => {
                Members::of(v).ok_or_else(|| type_err("spec", "an object"))?
            }
            _ => return Err(type_err("spec", "an object")),
        };
        Ok(Self {
            metadata,
            annotations,
            spec,
        })
    }

    /// `spec.serviceAccountName`, or `default` when absent, empty or not a string.
    pub fn service_account(&self) -> Cow<'a, str> {
        self.spec
            .str("serviceAccountName")
            .filter(|s| !s.is_empty())
            .unwrap_or(Cow::Borrowed("default"))
    }

    /// `metadata.name`, else `metadata.generateName`, else empty (for logs).
    pub fn name(&self) -> Cow<'a, str> {
        let field = |k: &str| {
            self.metadata
                .as_ref()
                .and_then(|m| m.str(k))
                .filter(|s| !s.is_empty())
        };
        field("name")
            .or_else(|| field("generateName"))
            .unwrap_or_default()
    }

    fn annotation(&self, settings: &Settings, name: &str) -> Option<Cow<'a, str>> {
        self.annotations.as_ref()?.str(&settings.annotation(name))
    }
}

/// Which containers get the mutation.
enum Containers {
    /// All but these (`<prefix>/skip-containers`).
    Skip(BTreeSet<String>),
    /// Only these (`<prefix>/include-containers`, which overrides skip-containers).
    Include(BTreeSet<String>),
}

impl Containers {
    fn selects(&self, name: &str) -> bool {
        match self {
            Containers::Skip(names) => !names.contains(name),
            Containers::Include(names) => names.contains(name),
        }
    }
}

/// Everything mode-specific that the per-container step needs.
struct Plan<'a> {
    volume_name: &'a str,
    mount_path: &'a str,
    use_regional_sts: bool,
    region: &'a str,
    /// The two variables naming the identity and its token; `None` in region-only mode
    /// (no identity, no token volume).
    identity: Option<[(&'static str, String); 2]>,
    /// `AWS_ROLE_SESSION_NAME` as JSON, added with the identity.
    session_name: Option<String>,
    containers: Containers,
}

/// Builds the reference's JSON Patch for `pod` under `decision`; see [`mutate_pod`].
/// This form takes and returns documents (for tests and tools); servers use
/// [`mutate_pod`], which reads and writes JSON text.
pub fn mutate<R: RngCore + ?Sized>(
    pod: &Value,
    decision: &Decision,
    settings: &Settings,
    rng: &mut R,
) -> Result<Option<Vec<PatchOp>>, MutateError> {
    let text = serde_json::to_string(pod).map_err(|e| MutateError::Json(e.to_string()))?;
    let pod = Pod::parse(&text)?;
    match mutate_pod(&pod, decision, settings, rng)? {
        None => Ok(None),
        Some(patch) => serde_json::from_str(&patch)
            .map(Some)
            .map_err(|e| MutateError::Json(e.to_string())),
    }
}

/// Builds the reference's JSON Patch for `pod` under `decision`, as JSON text:
///
/// 1. container credentials only: the `eks.amazonaws.com/pod-identity: enabled` label
///    (`add /metadata/labels` when there are no labels, else one `add` of the key);
/// 2. the projected-token volume, unless a volume of that name exists: `add
///    /spec/volumes/0` (a prepend) when `volumes` is an array, `add /spec/volumes` when
///    absent;
/// 3. always `add /spec/containers` with the whole rebuilt array;
/// 4. `add /spec/initContainers` with the whole rebuilt array when there is at least one.
///
/// Containers are rebuilt from the raw JSON (a container left alone is copied as
/// written; a changed one keeps every member, in order, with `env` and `volumeMounts`
/// extended), so every field survives. Pod annotations `<prefix>/token-expiration`
/// (raised to at least 600, beats the decision's), `<prefix>/skip-containers` and
/// `<prefix>/include-containers` (Go `encoding/csv` first record, no trimming) and
/// `<prefix>/role-session-name` apply. In container-credentials mode a lifetime of
/// exactly 86400 becomes `79200 + rng.next_u64() % 7201`, i.e. uniform in [79200, 86400].
///
/// Returns `Ok(None)` for [`Decision::None`] (and for [`Decision::Region`] when no
/// container changes), otherwise always `Some` (even when no container changed, as in
/// the reference).
pub fn mutate_pod<R: RngCore + ?Sized>(
    pod: &Pod<'_>,
    decision: &Decision,
    settings: &Settings,
    rng: &mut R,
) -> Result<Option<String>, MutateError> {
    let containers = containers_selected(
        pod.annotation(settings, INCLUDE_CONTAINERS_ANNOTATION)
            .as_deref(),
        pod.annotation(settings, SKIP_CONTAINERS_ANNOTATION)
            .as_deref(),
    );
    let (base_expiration, is_cc, region) = match decision {
        Decision::None(_) => return Ok(None),
        Decision::Region(d) => return region_only(&pod.spec, &d.region, containers),
        Decision::Irsa(d) => (d.token_expiration, false, d.region.as_str()),
        Decision::ContainerCredentials(d) => (d.token_expiration, true, d.region.as_str()),
    };
    let token_expiration = token_expiration(
        pod.annotation(settings, TOKEN_EXPIRATION_ANNOTATION)
            .as_deref(),
        base_expiration,
        is_cc,
        rng,
    );
    let session_name = match decision {
        Decision::Irsa(d) => pod
            .annotation(settings, ROLE_SESSION_NAME_ANNOTATION)
            .or_else(|| d.role_session_name.as_deref().map(Cow::Borrowed))
            .and_then(|wanted| session_name_env(&wanted, pod.metadata.as_ref())),
        _ => None,
    };

    let spec = &pod.spec;
    let windows = runs_windows(spec)?;
    let (volume_name, token_path, mount_path, audience, identity) =
        projection(decision, settings, windows);
    let use_regional_sts = match decision {
        Decision::Irsa(d) => d.use_regional_sts,
        Decision::ContainerCredentials(d) => d.use_regional_sts,
        Decision::Region(_) | Decision::None(_) => false,
    };
    let plan = Plan {
        volume_name,
        mount_path,
        use_regional_sts,
        region,
        identity: Some(identity),
        session_name,
        containers,
    };

    let token = TokenProjection {
        audience,
        path: token_path,
        expiration: token_expiration,
    };
    write_patch(pod, is_cc, &token, &plan).map(Some)
}

/// The projected token the webhook mounts.
struct TokenProjection<'a> {
    audience: &'a str,
    path: &'a str,
    expiration: i64,
}

/// The JSON patch: the Pod Identity label (container credentials), the token volume,
/// and the containers and init containers rebuilt by `plan`.
fn write_patch(
    pod: &Pod<'_>,
    is_cc: bool,
    token: &TokenProjection<'_>,
    plan: &Plan<'_>,
) -> Result<String, MutateError> {
    let spec = &pod.spec;
    let mut out = String::with_capacity(2048);
    out.push('[');
    if is_cc {
        pod_identity_label(&mut out, pod.metadata.as_ref())?;
        out.push(',');
    }
    if token_volume(
        &mut out,
        spec,
        plan.volume_name,
        token.audience,
        token.path,
        token.expiration,
    )? {
        out.push(',');
    }

    let containers = opt_array(spec, "containers", "spec.")?.unwrap_or_default();
    op_start(&mut out, "/spec/containers");
    rebuild(&mut out, &containers, "spec.containers", plan)?;
    out.push('}');

    if let Some(init) = opt_array(spec, "initContainers", "spec.")?.filter(|a| !a.is_empty()) {
        out.push(',');
        op_start(&mut out, "/spec/initContainers");
        rebuild(&mut out, &init, "spec.initContainers", plan)?;
        out.push('}');
    }
    out.push(']');
    Ok(out)
}

/// Writes `{"op":"add","path":<path>,"value":`; the caller writes the value and `}`.
fn op_start(out: &mut String, path: &str) {
    out.push_str(r#"{"op":"add","path":"#);
    push_str(out, path);
    out.push_str(r#","value":"#);
}

/// `<prefix>/include-containers` when present (a value that is not one CSV record
/// selects no container: a restriction that cannot be read is not lifted), else
/// `<prefix>/skip-containers` (a bad value skips none, as in the reference).
fn containers_selected(include: Option<&str>, skip: Option<&str>) -> Containers {
    match include {
        Some(list) => Containers::Include(
            csv_first_record(list)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        ),
        None => Containers::Skip(
            skip.and_then(csv_first_record)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        ),
    }
}

/// The `AWS_ROLE_SESSION_NAME` variable (as JSON) for a `role-session-name` annotation:
/// `pod-name` is the pod's name through the downward API (the name of a pod created from
/// `generateName` is only chosen after admission), when it fits STS's 2 to 64
/// characters; any other value is used as is when it is a valid session name. `None`
/// otherwise (the SDK then picks its own session name).
fn session_name_env(wanted: &str, metadata: Option<&Members<'_>>) -> Option<String> {
    if wanted == ROLE_SESSION_NAME_POD_NAME {
        let field = |k: &str| metadata.and_then(|m| m.str(k)).filter(|s| !s.is_empty());
        let len = match (field("name"), field("generateName")) {
            (Some(name), _) => name.len(),
            (None, Some(prefix)) => prefix.len() + GENERATED_NAME_SUFFIX,
            (None, None) => return None,
        };
        return (2..=MAX_ROLE_SESSION_NAME).contains(&len).then(|| {
            r#"{"name":"AWS_ROLE_SESSION_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}"#
                .to_string()
        });
    }
    session_name_looks_valid(wanted).then(|| env_var("AWS_ROLE_SESSION_NAME", wanted))
}

/// STS's `RoleSessionName`: 2 to 64 characters of `[\w+=,.@-]`.
fn session_name_looks_valid(name: &str) -> bool {
    (2..=MAX_ROLE_SESSION_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// The patch of [`Decision::Region`]: the region in each selected container that has
/// neither region variable; the containers arrays only when one changed, and `None` when
/// nothing did.
fn region_only(
    spec: &Members<'_>,
    region: &str,
    containers: Containers,
) -> Result<Option<String>, MutateError> {
    let plan = Plan {
        volume_name: "",
        mount_path: "",
        use_regional_sts: false,
        region,
        identity: None,
        session_name: None,
        containers,
    };
    let mut out = String::from("[");
    let mut any = false;
    for (key, path) in [
        ("containers", "/spec/containers"),
        ("initContainers", "/spec/initContainers"),
    ] {
        let Some(list) = opt_array(spec, key, "spec.")? else {
            continue;
        };
        let mut value = String::new();
        if rebuild(&mut value, &list, &format!("spec.{key}"), &plan)? {
            if any {
                out.push(',');
            }
            op_start(&mut out, path);
            out.push_str(&value);
            out.push('}');
            any = true;
        }
    }
    out.push(']');
    Ok(any.then_some(out))
}

/// The token's lifetime: the pod's annotation (clamped) or the decision's; container
/// credentials at the default lifetime get the reference's jitter.
fn token_expiration<R: RngCore + ?Sized>(
    annotated: Option<&str>,
    base: i64,
    is_cc: bool,
    rng: &mut R,
) -> i64 {
    let expiration = annotated
        .and_then(parse_go_int)
        .map(clamp_token_expiration)
        .unwrap_or(base);
    if is_cc && expiration == DEFAULT_TOKEN_EXPIRATION {
        let span = (DEFAULT_TOKEN_EXPIRATION - JITTER_MIN_EXPIRATION + 1).unsigned_abs();
        let jitter = i64::try_from(rng.next_u64() % span).unwrap_or(0);
        return JITTER_MIN_EXPIRATION + jitter;
    }
    expiration
}

/// Whether the pod's node selector picks Windows nodes.
fn runs_windows(spec: &Members<'_>) -> Result<bool, MutateError> {
    Ok(match opt_object(spec, "nodeSelector", "spec.")? {
        Some(sel) => ["kubernetes.io/os", "beta.kubernetes.io/os"]
            .iter()
            .any(|k| sel.str(k).as_deref() == Some("windows")),
        None => false,
    })
}

/// The projected token's volume name, file path, mount path and audience, and the two
/// environment variables naming the identity and the token file.
fn projection<'s>(
    decision: &'s Decision,
    settings: &'s Settings,
    windows: bool,
) -> (
    &'s str,
    &'s str,
    &'s str,
    &'s str,
    [(&'static str, String); 2],
) {
    let token_file = |mount: &str, path: &str| {
        let file = go_path_join(mount, path);
        if windows {
            format!("C:{}", file.replace('/', "\\"))
        } else {
            file
        }
    };
    match decision {
        Decision::Irsa(d) => (
            IRSA_VOLUME_NAME,
            IRSA_TOKEN_PATH,
            settings.token_mount_path.as_str(),
            d.audience.as_str(),
            [
                ("AWS_ROLE_ARN", d.role_arn.clone()),
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    token_file(&settings.token_mount_path, IRSA_TOKEN_PATH),
                ),
            ],
        ),
        _ => (
            settings.container_credentials_token_volume_name.as_str(),
            settings.container_credentials_token_path.as_str(),
            settings.container_credentials_token_mount_path.as_str(),
            settings.container_credentials_audience.as_str(),
            [
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    settings.container_credentials_full_uri.clone(),
                ),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    token_file(
                        &settings.container_credentials_token_mount_path,
                        &settings.container_credentials_token_path,
                    ),
                ),
            ],
        ),
    }
}

/// The `eks.amazonaws.com/pod-identity: enabled` label op, as the reference adds it.
fn pod_identity_label(out: &mut String, metadata: Option<&Members<'_>>) -> Result<(), MutateError> {
    let mut label = String::new();
    ObjectWriter::new(&mut label).str(POD_IDENTITY_LABEL, "enabled");
    label.push('}');
    match metadata {
        None => {
            op_start(out, "/metadata");
            out.push_str(r#"{"labels":"#);
            out.push_str(&label);
            out.push('}');
        }
        Some(m) => match opt_object(m, "labels", "metadata.")? {
            None => {
                op_start(out, "/metadata/labels");
                out.push_str(&label);
            }
            Some(_) => {
                op_start(
                    out,
                    &format!("/metadata/labels/{}", escape_pointer(POD_IDENTITY_LABEL)),
                );
                push_str(out, "enabled");
            }
        },
    }
    out.push('}');
    Ok(())
}

/// The projected service account token volume op, unless the pod already has a volume by
/// that name. Returns whether an op was written.
fn token_volume(
    out: &mut String,
    spec: &Members<'_>,
    volume_name: &str,
    audience: &str,
    token_path: &str,
    expiration: i64,
) -> Result<bool, MutateError> {
    let mut volume = String::with_capacity(192);
    let mut v = ObjectWriter::new(&mut volume);
    v.str("name", volume_name);
    let projected = v.key("projected");
    projected.push_str(r#"{"sources":[{"serviceAccountToken":"#);
    let mut token = ObjectWriter::new(projected);
    if !audience.is_empty() {
        token.str("audience", audience);
    }
    token.raw("expirationSeconds", &expiration.to_string());
    token.str("path", token_path);
    token.end();
    projected.push_str("}]}");
    v.end();
    match opt_array(spec, "volumes", "spec.")? {
        None => {
            op_start(out, "/spec/volumes");
            out.push('[');
            out.push_str(&volume);
            out.push_str("]}");
            Ok(true)
        }
        Some(volumes) => {
            if volumes
                .iter()
                .any(|v| name_of(v).as_deref() == Some(volume_name))
            {
                return Ok(false);
            }
            op_start(out, "/spec/volumes/0");
            out.push_str(&volume);
            out.push('}');
            Ok(true)
        }
    }
}

/// Writes the containers array with each container mutated; returns whether any changed.
fn rebuild(
    out: &mut String,
    containers: &[&RawValue],
    at: &str,
    plan: &Plan<'_>,
) -> Result<bool, MutateError> {
    out.push('[');
    let mut changed = false;
    for (i, c) in containers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let members = match kind(c) {
            Kind::Object => Members::of(c),
            _ => None,
        }
        .ok_or_else(|| type_err(format!("{at}[{i}]"), "an object"))?;
        changed |= mutate_container(out, c, &members, &format!("{at}[{i}]."), plan)?;
    }
    out.push(']');
    Ok(changed)
}

fn env_var(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 24);
    let mut o = ObjectWriter::new(&mut out);
    o.str("name", name);
    o.str("value", value);
    o.end();
    out
}

/// `items` followed by `added`, as a JSON array.
fn extended(items: &[&RawValue], added: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items
        .iter()
        .map(|r| r.get())
        .chain(added.iter().map(String::as_str))
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// The reference's `addEnvToContainer`, on raw JSON: writes the container (as written
/// when nothing changes) and returns whether it changed.
fn mutate_container(
    out: &mut String,
    raw: &RawValue,
    c: &Members<'_>,
    at: &str,
    plan: &Plan<'_>,
) -> Result<bool, MutateError> {
    let name = c.str("name").unwrap_or_default();
    if !plan.containers.selects(&name) {
        out.push_str(raw.get());
        return Ok(false);
    }
    let env = opt_array(c, "env", at)?.unwrap_or_default();
    let names: Vec<Cow<'_, str>> = env.iter().filter_map(|e| name_of(e)).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let identity_set = match &plan.identity {
        Some([(id_key_1, _), (id_key_2, _)]) => has(id_key_1) || has(id_key_2),
        None => true,
    };
    let region_set = has("AWS_REGION") || has("AWS_DEFAULT_REGION");
    let sts_set = has("AWS_STS_REGIONAL_ENDPOINTS");
    let session_set = has("AWS_ROLE_SESSION_NAME");
    if identity_set && region_set && sts_set {
        out.push_str(raw.get());
        return Ok(false);
    }

    let added = added_env(
        plan,
        EnvSet {
            identity: identity_set,
            region: region_set,
            sts: sts_set,
            session: session_set,
        },
    );
    let new_env = (!added.is_empty()).then(|| extended(&env, &added));
    let new_mounts = match plan.identity {
        None => None,
        Some(_) => token_mount(c, at, plan)?,
    };
    if new_env.is_none() && new_mounts.is_none() {
        out.push_str(raw.get());
        return Ok(false);
    }
    write_replaced(out, c, new_env.as_deref(), new_mounts.as_deref());
    Ok(true)
}

/// Which of the variables the webhook sets a container already has.
#[derive(Clone, Copy)]
struct EnvSet {
    identity: bool,
    region: bool,
    sts: bool,
    session: bool,
}

/// The environment entries to append to a container, in the reference's order.
fn added_env(plan: &Plan<'_>, set: EnvSet) -> Vec<String> {
    let mut added = Vec::new();
    if !set.sts && plan.use_regional_sts {
        added.push(env_var("AWS_STS_REGIONAL_ENDPOINTS", "regional"));
    }
    if !set.region && !plan.region.is_empty() {
        added.push(env_var("AWS_DEFAULT_REGION", plan.region));
        added.push(env_var("AWS_REGION", plan.region));
    }
    if !set.identity {
        for (key, value) in plan.identity.iter().flatten() {
            added.push(env_var(key, value));
        }
        if let Some(session) = plan.session_name.as_ref().filter(|_| !set.session) {
            added.push(session.clone());
        }
    }
    added
}

/// The container's `volumeMounts` with the token volume's mount appended, unless it
/// already mounts the volume.
fn token_mount(c: &Members<'_>, at: &str, plan: &Plan<'_>) -> Result<Option<String>, MutateError> {
    let mounts = opt_array(c, "volumeMounts", at)?.unwrap_or_default();
    let mounted = mounts
        .iter()
        .any(|m| name_of(m).as_deref() == Some(plan.volume_name));
    Ok((!mounted).then(|| {
        let mut mount = String::new();
        let mut m = ObjectWriter::new(&mut mount);
        m.str("name", plan.volume_name);
        m.raw("readOnly", "true");
        m.str("mountPath", plan.mount_path);
        m.end();
        extended(&mounts, &[mount])
    }))
}

/// Writes the container with `env` and `volumeMounts` replaced where given (appended
/// when it had none).
fn write_replaced(
    out: &mut String,
    c: &Members<'_>,
    new_env: Option<&str>,
    new_mounts: Option<&str>,
) {
    let mut o = ObjectWriter::new(out);
    for (key, value) in &c.0 {
        let replaced = match key.as_ref() {
            "env" => new_env,
            "volumeMounts" => new_mounts,
            _ => None,
        };
        o.raw(key, replaced.unwrap_or(value.get()));
    }
    for (key, value) in [("env", new_env), ("volumeMounts", new_mounts)] {
        if let Some(v) = value.filter(|_| c.get(key).is_none()) {
            o.raw(key, v);
        }
    }
    o.end();
}

/// RFC 6901 escaping of one reference token.
fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Go `filepath.Join(a, b)` on Unix: join the non-empty elements with `/`, then
/// `path.Clean`.
fn go_path_join(a: &str, b: &str) -> String {
    let parts: Vec<&str> = [a, b].into_iter().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    go_path_clean(&parts.join("/"))
}

/// Go `path.Clean`.
fn go_path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Lines of `input` with their `\n` kept, `\r\n` normalised to `\n` and a final `\r`
/// (at end of input) dropped, as Go's `csv.Reader.readLine` does.
fn csv_lines(input: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (line, tail) = match rest.find('\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, ""),
        };
        rest = tail;
        lines.push(if let Some(l) = line.strip_suffix("\r\n") {
            format!("{l}\n")
        } else if !line.ends_with('\n') {
            line.strip_suffix('\r').unwrap_or(line).to_string()
        } else {
            line.to_string()
        });
    }
    lines
}

/// The first record of Go's `encoding/csv` reader with default options (comma `,`, no
/// trimming, strict quotes, empty lines skipped). `None` on EOF or a parse error.
fn csv_first_record(input: &str) -> Option<Vec<String>> {
    let lines = csv_lines(input);
    let start = lines.iter().position(|l| l != "\n")?;
    let mut next_line = lines.iter().skip(start + 1);
    let mut line: &str = lines.get(start)?;
    let mut fields = Vec::new();
    'fields: loop {
        if !line.starts_with('"') {
            let (field, rest) = match line.find(',') {
                Some(i) => (line.get(..i)?, line.get(i + 1..)),
                None => (line.strip_suffix('\n').unwrap_or(line), None),
            };
            if field.contains('"') {
                return None;
            }
            fields.push(field.to_string());
            match rest {
                Some(rest) => line = rest,
                None => break 'fields,
            }
        } else {
            let mut buf = String::new();
            line = line.get(1..)?;
            loop {
                if let Some(i) = line.find('"') {
                    buf.push_str(line.get(..i)?);
                    line = line.get(i + 1..)?;
                    if let Some(r) = line.strip_prefix('"') {
                        buf.push('"');
                        line = r;
                    } else if let Some(r) = line.strip_prefix(',') {
                        fields.push(buf);
                        line = r;
                        continue 'fields;
                    } else if line.is_empty() || line == "\n" {
                        fields.push(buf);
                        break 'fields;
                    } else {
                        return None;
                    }
                } else if !line.is_empty() {
                    // A quoted field may span lines (empty ones included).
                    buf.push_str(line);
                    line = next_line.next()?;
                } else {
                    return None;
                }
            }
        }
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{ContainerCredentialsDecision, IrsaDecision, NoMutation};
    use rand::SeedableRng;
    use rand::rngs::mock::StepRng;
    use serde_json::json;

    fn csv(s: &str) -> Option<Vec<String>> {
        csv_first_record(s)
    }

    fn v(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn csv_like_go() {
        assert_eq!(csv("a,b"), v(&["a", "b"]));
        assert_eq!(csv("a, b"), v(&["a", " b"]));
        assert_eq!(csv("a,"), v(&["a", ""]));
        assert_eq!(csv("a,\n"), v(&["a", ""]));
        assert_eq!(csv("\n\na,b\nc"), v(&["a", "b"]));
        assert_eq!(csv("a\r\nb"), v(&["a"]));
        assert_eq!(csv("a\r"), v(&["a"]));
        assert_eq!(csv("\"a,b\",c"), v(&["a,b", "c"]));
        assert_eq!(csv("\"a\"\"b\""), v(&["a\"b"]));
        assert_eq!(csv("\"a\nb\",c"), v(&["a\nb", "c"]));
        assert_eq!(csv("\"a\n\nb\""), v(&["a\n\nb"]));
        assert_eq!(csv(""), None);
        assert_eq!(csv("\n"), None);
        assert_eq!(csv("a\"b"), None);
        assert_eq!(csv("\"a"), None);
        assert_eq!(csv("\"a\"x"), None);
        assert_eq!(csv(" \"a\""), None);
    }

    #[test]
    fn path_join_like_go() {
        assert_eq!(go_path_join("/a/", "token"), "/a/token");
        assert_eq!(go_path_join("/a//b/./c", "t"), "/a/b/c/t");
        assert_eq!(go_path_join("/a/../b", "t"), "/b/t");
        assert_eq!(go_path_join("/", "t"), "/t");
        assert_eq!(go_path_join("/..", "t"), "/t");
        assert_eq!(go_path_join("", "t"), "t");
        assert_eq!(go_path_join("/a", ""), "/a");
        assert_eq!(go_path_join("", ""), "");
        assert_eq!(go_path_join("a/..", ".."), "..");
        assert_eq!(go_path_join(".", "."), ".");
    }

    fn irsa() -> Decision {
        Decision::Irsa(IrsaDecision {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            audience: "sts.amazonaws.com".into(),
            use_regional_sts: false,
            token_expiration: 86400,
            region: String::new(),
            role_session_name: None,
        })
    }

    fn cc() -> Decision {
        Decision::ContainerCredentials(ContainerCredentialsDecision {
            use_regional_sts: false,
            token_expiration: 86400,
            region: String::new(),
        })
    }

    fn run(pod: &Value, d: &Decision) -> Result<Option<Vec<PatchOp>>, MutateError> {
        mutate(pod, d, &Settings::default(), &mut StepRng::new(0, 0))
    }

    #[test]
    fn no_decision_no_patch() {
        let pod = json!({"spec": {"containers": []}});
        for reason in [NoMutation::NoRoleArn, NoMutation::ServiceAccountNotFound] {
            assert_eq!(run(&pod, &Decision::None(reason)).unwrap(), None);
        }
    }

    #[test]
    fn patch_serialisation_shape() {
        let pod = json!({"metadata": {}, "spec": {"volumes": [], "containers": [{"name": "c"}]}});
        let ops = run(&pod, &irsa()).unwrap().unwrap();
        let text = serde_json::to_string(&ops).unwrap();
        assert!(
            text.starts_with(r#"[{"op":"add","path":"/spec/volumes/0","value":{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"}}]}}},{"op":"add","path":"/spec/containers","value":[{"name":"c","env":[{"name":"AWS_ROLE_ARN","#),
            "{text}"
        );
        // Accepted and applied by the json-patch crate (what kube uses).
        let patch: json_patch::Patch = serde_json::from_str(&text).unwrap();
        let mut doc = pod.clone();
        json_patch::patch(&mut doc, &patch).unwrap();
        assert_eq!(
            doc.pointer("/spec/containers/0/volumeMounts/0/readOnly"),
            Some(&json!(true))
        );
        let back: Vec<PatchOp> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ops);
    }

    #[test]
    fn patch_returned_even_when_nothing_changes() {
        let pod = json!({"spec": {
            "volumes": [{"name": "aws-iam-token"}],
            "containers": [{"name": "c", "env": [
                {"name": "AWS_ROLE_ARN", "value": "x"}, {"name": "AWS_REGION", "value": "r"},
                {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}]}]}});
        let ops = run(&pod, &irsa()).unwrap().unwrap();
        assert_eq!(
            ops,
            vec![PatchOp::add(
                "/spec/containers",
                pod["spec"]["containers"].clone()
            )]
        );
    }

    #[test]
    fn cc_label_variants() {
        let no_meta = json!({"spec": {"containers": []}});
        let ops = run(&no_meta, &cc()).unwrap().unwrap();
        assert_eq!(
            ops.first(),
            Some(&PatchOp::add(
                "/metadata",
                json!({"labels": {"eks.amazonaws.com/pod-identity": "enabled"}})
            ))
        );
        let null_labels = json!({"metadata": {"labels": null}, "spec": {"containers": []}});
        let ops = run(&null_labels, &cc()).unwrap().unwrap();
        assert_eq!(
            ops.first(),
            Some(&PatchOp::add(
                "/metadata/labels",
                json!({"eks.amazonaws.com/pod-identity": "enabled"})
            ))
        );
        let labels = json!({"metadata": {"labels": {}}, "spec": {"containers": []}});
        let ops = run(&labels, &cc()).unwrap().unwrap();
        assert_eq!(
            ops.first(),
            Some(&PatchOp::add(
                "/metadata/labels/eks.amazonaws.com~1pod-identity",
                json!("enabled")
            ))
        );
        // IRSA never labels.
        let ops = run(&labels, &irsa()).unwrap().unwrap();
        assert!(
            ops.iter()
                .all(|PatchOp::Add { path, .. }| !path.starts_with("/metadata"))
        );
    }

    #[test]
    fn empty_audience_is_omitted() {
        let d = Decision::Irsa(IrsaDecision {
            role_arn: "r".into(),
            audience: String::new(),
            use_regional_sts: false,
            token_expiration: 3600,
            region: String::new(),
            role_session_name: None,
        });
        let ops = run(&json!({"spec": {"containers": []}}), &d)
            .unwrap()
            .unwrap();
        assert_eq!(
            ops.first(),
            Some(&PatchOp::add(
                "/spec/volumes",
                json!([{"name": "aws-iam-token", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3600, "path": "token"}}]}}])
            ))
        );
    }

    fn expiration(ops: &[PatchOp]) -> i64 {
        ops.iter()
            .find_map(|PatchOp::Add { path, value }| {
                let vol = if path == "/spec/volumes" {
                    value.get(0)?
                } else {
                    value
                };
                vol.pointer("/projected/sources/0/serviceAccountToken/expirationSeconds")?
                    .as_i64()
            })
            .unwrap()
    }

    #[test]
    fn jitter_is_uniform_in_range_and_cc_only() {
        let pod = json!({"spec": {"containers": []}});
        let settings = Settings::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for _ in 0..20_000 {
            let ops = mutate(&pod, &cc(), &settings, &mut rng).unwrap().unwrap();
            let e = expiration(&ops);
            assert!((79200..=86400).contains(&e), "{e}");
            lo = lo.min(e);
            hi = hi.max(e);
        }
        assert!(lo < 79300 && hi > 86300, "{lo}..{hi}");
        let ops = mutate(&pod, &irsa(), &settings, &mut rng).unwrap().unwrap();
        assert_eq!(expiration(&ops), 86400);
        assert_eq!(
            expiration(
                &mutate(&pod, &cc(), &settings, &mut StepRng::new(7200, 0))
                    .unwrap()
                    .unwrap()
            ),
            86400
        );
        assert_eq!(
            expiration(
                &mutate(&pod, &cc(), &settings, &mut StepRng::new(7201, 0))
                    .unwrap()
                    .unwrap()
            ),
            79200
        );
    }

    #[test]
    fn service_account_name() {
        assert_eq!(
            pod_service_account(&json!({"spec": {"serviceAccountName": "app"}})),
            "app"
        );
        assert_eq!(
            pod_service_account(&json!({"spec": {"serviceAccountName": ""}})),
            "default"
        );
        assert_eq!(pod_service_account(&json!({"spec": {}})), "default");
        assert_eq!(pod_service_account(&json!("x")), "default");
    }

    #[test]
    fn malformed_pods_are_errors() {
        let cases = [
            (json!("pod"), "pod field `(pod)` must be an object"),
            (json!({}), "pod field `spec` must be an object"),
            (
                json!({"metadata": [], "spec": {}}),
                "pod field `metadata` must be an object",
            ),
            (
                json!({"metadata": {"annotations": 1}, "spec": {}}),
                "pod field `metadata.annotations` must be an object",
            ),
            (
                json!({"spec": {"volumes": {}}}),
                "pod field `spec.volumes` must be an array",
            ),
            (
                json!({"spec": {"containers": {}}}),
                "pod field `spec.containers` must be an array",
            ),
            (
                json!({"spec": {"containers": [1]}}),
                "pod field `spec.containers[0]` must be an object",
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i", "env": "x"}]}}),
                "pod field `spec.initContainers[0].env` must be an array",
            ),
            (
                json!({"spec": {"containers": [{"name": "c", "volumeMounts": 3}]}}),
                "pod field `spec.containers[0].volumeMounts` must be an array",
            ),
        ];
        for (pod, msg) in cases {
            let err = run(&pod, &irsa()).unwrap_err();
            assert_eq!(err.to_string(), msg);
        }
    }

    fn irsa_with(region: &str, session: Option<&str>) -> Decision {
        Decision::Irsa(IrsaDecision {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            audience: "sts.amazonaws.com".into(),
            use_regional_sts: false,
            token_expiration: 86400,
            region: region.into(),
            role_session_name: session.map(Into::into),
        })
    }

    fn env_names(ops: &[PatchOp], container: usize) -> Vec<String> {
        let PatchOp::Add { value, .. } = ops
            .iter()
            .find(|PatchOp::Add { path, .. }| path == "/spec/containers")
            .unwrap();
        value[container]["env"]
            .as_array()
            .map(|env| {
                env.iter()
                    .map(|e| e["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn session_name_pod_name_uses_the_downward_api_within_stss_limit() {
        let pod = |meta: Value| json!({"metadata": meta, "spec": {"containers": [{"name": "c"}]}});
        let session = |p: &Value, d: &Decision| {
            let ops = run(p, d).unwrap().unwrap();
            let PatchOp::Add { value, .. } = ops.last().unwrap();
            value[0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "AWS_ROLE_SESSION_NAME")
                .cloned()
        };
        let by_ref = json!({"name": "AWS_ROLE_SESSION_NAME",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}});
        let sa = irsa_with("", Some("pod-name"));
        assert_eq!(
            session(&pod(json!({"name": "web-0"})), &sa),
            Some(by_ref.clone())
        );
        assert_eq!(
            session(&pod(json!({"generateName": "web-7d9c6b-"})), &sa),
            Some(by_ref.clone())
        );
        // 59 + 5 generated characters = 64: fits; 60 + 5 does not.
        let g59 = "g".repeat(59);
        let g60 = "g".repeat(60);
        assert_eq!(
            session(&pod(json!({"generateName": g59})), &sa),
            Some(by_ref.clone())
        );
        assert_eq!(session(&pod(json!({"generateName": g60})), &sa), None);
        assert_eq!(session(&pod(json!({"name": "n".repeat(65)})), &sa), None);
        assert_eq!(session(&pod(json!({"name": "a"})), &sa), None);
        assert_eq!(session(&pod(json!({})), &sa), None);
        // A literal, checked against STS's pattern.
        let lit = irsa_with("", Some("batch@team-a"));
        assert_eq!(
            session(&pod(json!({"name": "p"})), &lit),
            Some(json!({"name": "AWS_ROLE_SESSION_NAME", "value": "batch@team-a"}))
        );
        for bad in ["a", "has space", "colon:x", "slash/x", &"x".repeat(65)] {
            assert_eq!(
                session(&pod(json!({"name": "p"})), &irsa_with("", Some(bad))),
                None,
                "{bad}"
            );
        }
        // The pod's annotation beats the ServiceAccount's.
        let annotated = pod(json!({"name": "p",
            "annotations": {"eks.amazonaws.com/role-session-name": "from-pod"}}));
        assert_eq!(
            session(&annotated, &lit),
            Some(json!({"name": "AWS_ROLE_SESSION_NAME", "value": "from-pod"}))
        );
        assert_eq!(
            session(&annotated, &irsa()),
            Some(json!({"name": "AWS_ROLE_SESSION_NAME", "value": "from-pod"}))
        );
        // Container credentials have no session name.
        let ops = run(&annotated, &cc()).unwrap().unwrap();
        assert!(!env_names(&ops, 0).contains(&"AWS_ROLE_SESSION_NAME".to_string()));
        // A container that names its own session keeps it; one with its own identity is
        // not touched.
        let own = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "env": [{"name": "AWS_ROLE_SESSION_NAME", "value": "mine"}]},
            {"name": "b", "env": [{"name": "AWS_ROLE_ARN", "value": "x"}]}]}});
        let ops = run(&own, &sa).unwrap().unwrap();
        assert_eq!(
            env_names(&ops, 0),
            [
                "AWS_ROLE_SESSION_NAME",
                "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE"
            ]
        );
        assert_eq!(env_names(&ops, 1), ["AWS_ROLE_ARN"]);
    }

    #[test]
    fn include_containers_selects_and_overrides_skip() {
        let pod = |ann: Value| {
            json!({"metadata": {"annotations": ann}, "spec": {
                "initContainers": [{"name": "init"}],
                "containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "mesh"}]}})
        };
        let mutated = |p: &Value| -> Vec<String> {
            let ops = run(p, &irsa()).unwrap().unwrap();
            ops.iter()
                .filter(|PatchOp::Add { path, .. }| path.ends_with("ontainers"))
                .flat_map(|PatchOp::Add { value, .. }| value.as_array().unwrap().clone())
                .filter(|c| c.get("env").is_some())
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        let inc = "eks.amazonaws.com/include-containers";
        let skip = "eks.amazonaws.com/skip-containers";
        assert_eq!(mutated(&pod(json!({inc: "app"}))), ["app"]);
        assert_eq!(
            mutated(&pod(json!({inc: "init,sidecar"}))),
            ["sidecar", "init"]
        );
        assert_eq!(mutated(&pod(json!({inc: "app", skip: "app"}))), ["app"]);
        assert_eq!(
            mutated(&pod(json!({skip: "app,mesh"}))),
            ["sidecar", "init"]
        );
        // Not trimmed (as skip-containers); an unreadable list includes nothing.
        assert!(mutated(&pod(json!({inc: " app"}))).is_empty());
        assert!(mutated(&pod(json!({inc: "a\"pp"}))).is_empty());
        assert!(mutated(&pod(json!({inc: ""}))).is_empty());
        // The token volume is still added, as skip-containers leaves it.
        let ops = run(&pod(json!({inc: "nothing"})), &irsa())
            .unwrap()
            .unwrap();
        assert_eq!(
            ops.first().map(|PatchOp::Add { path, .. }| path.as_str()),
            Some("/spec/volumes")
        );
    }

    #[test]
    fn region_only_decision() {
        let d = Decision::Region(crate::resolve::RegionDecision {
            region: "eu-west-1".into(),
            reason: NoMutation::NoRoleArn,
        });
        let pod = json!({"metadata": {"annotations": {"eks.amazonaws.com/skip-containers": "skipped"}},
            "spec": {"volumes": [], "containers": [
                {"name": "a"},
                {"name": "b", "env": [{"name": "AWS_REGION", "value": "us-east-1"}]},
                {"name": "skipped"}],
              "initContainers": [{"name": "i", "env": [{"name": "AWS_DEFAULT_REGION", "value": "x"}]}]}});
        let ops = run(&pod, &d).unwrap().unwrap();
        assert_eq!(
            ops,
            vec![PatchOp::add(
                "/spec/containers",
                json!([
                    {"name": "a", "env": [
                        {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"},
                        {"name": "AWS_REGION", "value": "eu-west-1"}]},
                    {"name": "b", "env": [{"name": "AWS_REGION", "value": "us-east-1"}]},
                    {"name": "skipped"}
                ])
            )]
        );
        // Nothing to change: no patch at all.
        let done = json!({"spec": {"containers": [{"name": "b", "env": [{"name": "AWS_REGION", "value": "r"}]}]}});
        assert_eq!(run(&done, &d).unwrap(), None);
        assert_eq!(run(&json!({"spec": {}}), &d).unwrap(), None);
        // Identity decisions carry the region as before.
        let ops = run(
            &json!({"spec": {"containers": [{"name": "c"}]}}),
            &irsa_with("cn-north-1", None),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            env_names(&ops, 0),
            [
                "AWS_DEFAULT_REGION",
                "AWS_REGION",
                "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE"
            ]
        );
    }

    #[test]
    fn missing_containers_give_empty_array() {
        let ops = run(&json!({"spec": {}}), &irsa()).unwrap().unwrap();
        assert_eq!(
            ops.last(),
            Some(&PatchOp::add("/spec/containers", json!([])))
        );
    }

    #[test]
    fn null_env_and_mounts_are_absent() {
        let pod =
            json!({"spec": {"containers": [{"name": "c", "env": null, "volumeMounts": null}]}});
        let ops = run(&pod, &irsa()).unwrap().unwrap();
        let PatchOp::Add { value, .. } = ops.last().unwrap();
        assert_eq!(value.pointer("/0/env/0/name"), Some(&json!("AWS_ROLE_ARN")));
        assert_eq!(
            value.pointer("/0/volumeMounts/0/name"),
            Some(&json!("aws-iam-token"))
        );
    }
}
