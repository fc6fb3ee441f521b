//! Integration tests of the webhook server: the admission protocol and bad bodies through
//! `router()` in-process, the ServiceAccount cache fed watcher events, the
//! direct lookup on a miss, metrics, TLS certificate reload over real files and a real
//! TLS client, and graceful shutdown.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use irsa_mutate::Settings;
use irsa_test::net::{Bytes, Full};
use irsa_webhook::{
    AppState, Health, Metrics, SaCache, SaFetcher, SaStore, Shared, metrics_router, router,
    serve_tls,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const ROLE: &str = "arn:aws:iam::111122223333:role/app";

fn sa(ns: &str, name: &str, role: Option<&str>) -> ServiceAccount {
    let mut s = ServiceAccount::default();
    s.metadata.name = Some(name.into());
    s.metadata.namespace = Some(ns.into());
    if let Some(r) = role {
        s.metadata.annotations = Some(BTreeMap::from([(
            "eks.amazonaws.com/role-arn".to_string(),
            r.to_string(),
        )]));
    }
    s
}

/// A fake API for direct lookups: fixed answers, an optional delay, a call counter.
#[derive(Default)]
struct FakeApi {
    sas: BTreeMap<(String, String), ServiceAccount>,
    delay: Duration,
    calls: AtomicUsize,
}

impl SaFetcher for FakeApi {
    fn fetch<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, String>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            Ok(self
                .sas
                .get(&(namespace.to_string(), name.to_string()))
                .map(|sa| sa.metadata.clone()))
        })
    }
}

struct Fixture {
    state: AppState,
    writer: SaStore,
}

fn fixture(fetcher: Option<Arc<dyn SaFetcher>>, grace: Duration, debug: bool) -> Fixture {
    let settings = Arc::new(Settings::default());
    let writer = SaStore::new(settings.clone());
    let health = Arc::new(Health::default());
    health.config_map_synced.store(true, Ordering::SeqCst);
    let state = AppState {
        settings,
        sa: SaCache::new(writer.clone(), fetcher, grace),
        config_map: None,
        container_credentials: None,
        metrics: Metrics::new(),
        health,
        debug_handlers: debug,
        max_body_bytes: 64 * 1024,
        cache_restart: Arc::new(tokio::sync::Notify::new()),
    };
    Fixture { state, writer }
}

/// Applies a complete initial list to the store (Init, InitApply…, InitDone).
fn list(writer: &mut SaStore, sas: Vec<ServiceAccount>) {
    writer.apply(&Event::Init);
    for s in sas {
        writer.apply(&Event::InitApply(s.metadata));
    }
    writer.apply(&Event::InitDone);
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-", "namespace": "apps"},
        "spec": {
            "serviceAccountName": "app",
            "initContainers": [{"name": "sidecar", "image": "envoy", "restartPolicy": "Always",
                                "futureField": {"kept": true}}],
            "containers": [
                {"name": "a", "image": "a", "startupProbe": {"httpGet": {"path": "/", "port": 8080}}},
                {"name": "b", "image": "b", "env": [{"name": "X", "value": "1"}]}
            ]
        }
    })
}

fn review(api_version: Option<&str>, uid: &str, object: Value) -> Value {
    let mut r = json!({
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "apps",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": object,
            "dryRun": false
        }
    });
    if let Some(v) = api_version {
        r["apiVersion"] = json!(v);
    }
    r
}

async fn post(router: axum::Router, content_type: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = Request::post("/mutate")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

async fn get(router: axum::Router, path: &str) -> (StatusCode, String) {
    let resp = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn admit(state: &AppState, review: &Value) -> Value {
    let (status, body) = post(
        router(state.clone()),
        "application/json",
        serde_json::to_vec(review).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Decodes the response patch and applies it to `pod`.
fn patched(resp: &Value, pod: &Value) -> Value {
    let r = &resp["response"];
    assert_eq!(r["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut out = pod.clone();
    json_patch::patch(&mut out, &patch).unwrap();
    out
}

fn env_of(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

#[tokio::test]
async fn v1_review_is_mutated_and_keeps_unknown_fields() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    let resp = admit(
        &f.state,
        &review(Some("admission.k8s.io/v1"), "uid-1", pod()),
    )
    .await;
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(resp["kind"], "AdmissionReview");
    assert_eq!(resp["response"]["uid"], "uid-1");
    assert_eq!(resp["response"]["allowed"], true);
    let p = patched(&resp, &pod());
    let c0 = &p["spec"]["containers"][0];
    assert_eq!(env_of(c0, "AWS_ROLE_ARN").as_deref(), Some(ROLE));
    assert_eq!(
        env_of(c0, "AWS_WEB_IDENTITY_TOKEN_FILE").as_deref(),
        Some("/var/run/secrets/eks.amazonaws.com/serviceaccount/token")
    );
    assert_eq!(c0["startupProbe"]["httpGet"]["port"], 8080);
    assert_eq!(
        env_of(&p["spec"]["containers"][1], "X").as_deref(),
        Some("1")
    );
    let init = &p["spec"]["initContainers"][0];
    assert_eq!(init["restartPolicy"], "Always");
    assert_eq!(init["futureField"]["kept"], true);
    assert_eq!(p["spec"]["volumes"][0]["name"], "aws-iam-token");
    // the pod-count metric saw it
    let text = f.state.metrics.encode();
    assert!(
        text.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("pod_identity_webhook_missing_sa_count 0\n"),
        "{text}"
    );
}

#[tokio::test]
async fn v1beta1_and_absent_type_meta_are_echoed() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    let resp = admit(
        &f.state,
        &review(Some("admission.k8s.io/v1beta1"), "uid-b", pod()),
    )
    .await;
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(resp["response"]["uid"], "uid-b");
    let p = patched(&resp, &pod());
    assert!(env_of(&p["spec"]["containers"][0], "AWS_ROLE_ARN").is_some());

    let resp = admit(&f.state, &review(None, "uid-c", pod())).await;
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(resp["kind"], "AdmissionReview");
    assert_eq!(resp["response"]["uid"], "uid-c");
}

#[tokio::test]
async fn no_role_means_allowed_without_patch() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", None)]);
    let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    assert_eq!(resp["response"]["allowed"], true);
    assert!(resp["response"].get("patch").is_none());
    assert!(resp["response"].get("patchType").is_none());
    // UPDATE is never mutated
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    let mut r = review(Some("admission.k8s.io/v1"), "u2", pod());
    r["request"]["operation"] = json!("UPDATE");
    let resp = admit(&f.state, &r).await;
    assert!(resp["response"].get("patch").is_none());
}

/// The AdmissionReview answered to `body` (as `application/json`).
async fn answer(router: axum::Router, body: Vec<u8>) -> Value {
    let (_, body) = post(router, "application/json", body).await;
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let f = fixture(None, Duration::ZERO, false);
    let r = || router(f.state.clone());

    // wrong content type: the reference's 415
    let (status, body) = post(r(), "text/plain", b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body, b"Invalid Content-Type, expected `application/json`\n");

    // not JSON: a denying AdmissionReview, never a panic
    for bad in [&b"{not json"[..], b"", b"[1,2]", b"\xff\xfe", b"null"] {
        let (status, body) = post(r(), "application/json", bad.to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["uid"], "");
        let msg = v["response"]["status"]["message"].as_str().unwrap();
        assert!(msg.starts_with("couldn't parse AdmissionReview"), "{msg}");
    }

    // no request
    let v = answer(
        r(),
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
    )
    .await;
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("bad content")
    );

    // a pod that is not an object: deny, and echo what is known
    let mut rv = review(Some("admission.k8s.io/v1"), "uid-x", json!("a string"));
    let v = answer(r(), serde_json::to_vec(&rv).unwrap()).await;
    assert_eq!(v["response"]["uid"], "uid-x");
    assert_eq!(v["response"]["allowed"], false);

    // a pod with a wrongly typed field is denied with the field named
    rv["request"]["object"] = json!({"spec": {"serviceAccountName": "app", "containers": "nope"}});
    let v = answer(r(), serde_json::to_vec(&rv).unwrap()).await;
    assert_eq!(v["response"]["uid"], "uid-x");

    // an unknown admission version
    let v = answer(r(), br#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"u","object":{}}}"#.to_vec()).await;
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("`admission.k8s.io/v2`")
    );

    // too large
    let big = vec![b' '; 64 * 1024 + 1];
    let (status, _) = post(r(), "application/json", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // wrong method
    let (status, _) = get(r(), "/mutate").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    only_mutate_is_instrumented(&f).await;
}

/// Every `/mutate` request of [`bad_bodies_get_clear_errors`] was counted; as in the
/// reference, probes and unknown paths are not instrumented.
async fn only_mutate_is_instrumented(f: &Fixture) {
    let r = || router(f.state.clone());
    let text = f.state.metrics.encode();
    assert!(
        text.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"415\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "http_request_duration_microseconds_count{verb=\"GET\",path=\"/mutate\"} 1\n"
        ),
        "{text}"
    );
    let (status, _) = get(r(), "/some/random/path").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(get(r(), "/healthz").await.0, StatusCode::OK);
    let after = f.state.metrics.encode();
    assert!(
        !after.contains("/some/random/path") && !after.contains("path=\"other\""),
        "{after}"
    );
    assert!(!after.contains("path=\"/healthz\""), "{after}");
}

#[tokio::test]
async fn readiness_follows_the_reflector_and_shutdown() {
    let f = fixture(None, Duration::ZERO, false);
    let r = || router(f.state.clone());
    assert_eq!(get(r(), "/healthz").await, (StatusCode::OK, "ok".into()));
    let (status, body) = get(r(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("ServiceAccount cache not synced"), "{body}");

    f.writer.apply(&Event::Init);
    f.writer
        .apply(&Event::InitApply(sa("apps", "app", Some(ROLE)).metadata));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(r(), "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        f.state.sa.is_empty(),
        "the list is not visible before InitDone"
    );

    f.writer.apply(&Event::InitDone);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(r(), "/readyz").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "readiness never turned true");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(f.state.sa.len(), 1);
    let m = get(metrics_router(f.state.clone()), "/metrics").await.1;
    assert!(m.contains("irsa_webhook_ready 1\n"), "{m}");

    // later events update the store; delete removes
    f.writer
        .apply(&Event::Delete(sa("apps", "app", Some(ROLE)).metadata));
    assert!(f.state.sa.is_empty());

    f.state.health.shutting_down.store(true, Ordering::SeqCst);
    let (status, body) = get(r(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("shutting down"));
    assert_eq!(get(r(), "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn cache_miss_is_looked_up_within_the_grace_period() {
    let mut api = FakeApi::default();
    api.sas
        .insert(("apps".into(), "app".into()), sa("apps", "app", Some(ROLE)));
    let api = Arc::new(api);
    let mut f = fixture(Some(api.clone()), Duration::from_millis(500), false);
    list(&mut f.writer, vec![]);
    let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    let p = patched(&resp, &pod());
    assert_eq!(
        env_of(&p["spec"]["containers"][0], "AWS_ROLE_ARN").as_deref(),
        Some(ROLE)
    );
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
    // the lookup resolved the miss: not a missing ServiceAccount (as the reference counts
    // only misses its wait did not resolve)
    let text = f.state.metrics.encode();
    assert!(
        text.contains("pod_identity_webhook_missing_sa_count 0\n"),
        "{text}"
    );
    assert!(
        text.contains("irsa_webhook_sa_lookups_total{result=\"found\"} 1\n"),
        "{text}"
    );

    // a missing SA: looked up, not found, not mutated
    let mut other = pod();
    other["spec"]["serviceAccountName"] = json!("ghost");
    let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u2", other)).await;
    assert!(resp["response"].get("patch").is_none());
    let text = f.state.metrics.encode();
    assert!(
        text.contains("irsa_webhook_sa_lookups_total{result=\"not_found\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("pod_identity_webhook_missing_sa_count 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_lookup_is_bounded_and_zero_grace_turns_it_off() {
    let mut api = FakeApi {
        delay: Duration::from_secs(30),
        ..Default::default()
    };
    api.sas
        .insert(("apps".into(), "app".into()), sa("apps", "app", Some(ROLE)));
    let api = Arc::new(api);
    // a 5 s grace is capped to 1 s
    let mut f = fixture(Some(api.clone()), Duration::from_secs(5), false);
    assert_eq!(f.state.sa.grace(), Duration::from_secs(1));
    list(&mut f.writer, vec![]);
    let start = Instant::now();
    let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(resp["response"]["allowed"], true);
    assert!(resp["response"].get("patch").is_none());
    assert!(
        f.state
            .metrics
            .encode()
            .contains("irsa_webhook_sa_lookups_total{result=\"timeout\"} 1\n")
    );

    let mut g = fixture(Some(api.clone()), Duration::ZERO, false);
    list(&mut g.writer, vec![]);
    let before = api.calls.load(Ordering::SeqCst);
    let start = Instant::now();
    admit(&g.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(
        api.calls.load(Ordering::SeqCst),
        before,
        "grace 0 must not look up"
    );
    assert!(
        g.state
            .metrics
            .encode()
            .contains("pod_identity_webhook_missing_sa_count 1\n")
    );
}

#[tokio::test]
async fn container_credentials_win_over_irsa() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    let cc = irsa_mutate::ContainerCredentialsConfig::parse(
        r#"{"identities":[{"namespace":"apps","serviceAccount":"app"}]}"#,
    )
    .unwrap();
    f.state.container_credentials = Some(Arc::new(Shared::new(cc)));
    let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    let p = patched(&resp, &pod());
    let c0 = &p["spec"]["containers"][0];
    assert_eq!(
        env_of(c0, "AWS_CONTAINER_CREDENTIALS_FULL_URI").as_deref(),
        Some("http://169.254.170.23/v1/credentials")
    );
    assert!(env_of(c0, "AWS_ROLE_ARN").is_none());
    assert_eq!(
        p["metadata"]["labels"]["eks.amazonaws.com/pod-identity"],
        "enabled"
    );
    let exp = p["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
        ["expirationSeconds"]
        .as_i64()
        .unwrap();
    assert!((79200..=86400).contains(&exp), "{exp}");
    assert!(
        f.state
            .metrics
            .encode()
            .contains("method=\"container_credentials\"} 1")
    );
}

/// Rewrites `path` with `doc(n)` (n = 1, 2, …) until `stop`: truncated first, then written
/// in three flushed pieces, as a careless writer does; the number of rewrites.
fn rewrite_in_pieces(
    path: std::path::PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    doc: impl Fn(usize) -> String + Send + 'static,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut rewrites = 0;
        while !stop.load(Ordering::SeqCst) {
            rewrites += 1;
            let text = doc(rewrites);
            let mut file = std::fs::File::create(&path).unwrap(); // truncates
            std::thread::sleep(Duration::from_millis(2));
            for piece in text.as_bytes().chunks(text.len() / 3 + 1) {
                file.write_all(piece).unwrap();
                file.flush().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        rewrites
    })
}

/// `irsa_webhook_config_reloads_total{result}` in the metrics text `m` (0 when absent).
fn config_reloads(m: &str, result: &str) -> u64 {
    m.lines()
        .find(|l| {
            l.starts_with("irsa_webhook_config_reloads_total")
                && l.contains(&format!("result=\"{result}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// aws/amazon-eks-pod-identity-webhook#264: the container-credentials file is rewritten
/// in place (truncate, then written in pieces) in a loop while pods are admitted; every
/// admission must still get the container-credentials mutation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_credentials_survive_a_file_being_rewritten() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.json");
    let doc = |i: usize| {
        format!(
            r#"{{"identities":[{{"namespace":"apps","serviceAccount":"app"}},{{"namespace":"ns-{i}","serviceAccount":"sa-{i}"}}]}}"#
        )
    };
    std::fs::write(&path, doc(0)).unwrap();
    let shared = Arc::new(Shared::default());
    f.state.container_credentials = Some(shared.clone());
    let metrics = f.state.metrics.clone();
    let poller = tokio::spawn(
        irsa_webhook::CcFile::new(path.clone())
            .with_empty_settle(Duration::from_millis(500))
            .run(Duration::from_millis(1), shared.clone(), metrics),
    );
    // Wait for the first load.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !shared.get().contains("apps", "app") {
        assert!(Instant::now() < deadline, "the file was never loaded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = rewrite_in_pieces(path.clone(), stop.clone(), doc);
    let until = Instant::now() + Duration::from_millis(1500);
    let mut admitted = 0;
    while Instant::now() < until {
        let resp = admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
        let p = patched(&resp, &pod());
        let c0 = &p["spec"]["containers"][0];
        assert_eq!(
            env_of(c0, "AWS_CONTAINER_CREDENTIALS_FULL_URI").as_deref(),
            Some("http://169.254.170.23/v1/credentials"),
            "admission {admitted} lost its container-credentials mutation"
        );
        assert!(env_of(c0, "AWS_ROLE_ARN").is_none());
        admitted += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let rewrites = writer.join().unwrap();
    poller.abort();
    // The race was really run: the poller saw the file empty and half written.
    let m = f.state.metrics.encode();
    let count = |result: &str| config_reloads(&m, result);
    assert!(rewrites > 50, "only {rewrites} rewrites");
    assert!(admitted > 100, "only {admitted} admissions");
    assert!(count("pending") > 0, "never saw the file empty\n{m}");
    assert!(count("error") > 0, "never saw the file half written\n{m}");
    assert!(count("ok") > 10, "few complete reloads\n{m}");
}

#[tokio::test]
async fn debug_handlers_only_behind_the_flag() {
    let mut off = fixture(None, Duration::ZERO, false);
    list(&mut off.writer, vec![]);
    assert_eq!(
        get(router(off.state.clone()), "/debug/alpha/deny").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(metrics_router(off.state.clone()), "/debug/alpha/cache")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let mut on = fixture(None, Duration::ZERO, true);
    list(
        &mut on.writer,
        vec![sa("apps", "app", Some(ROLE)), sa("apps", "plain", None)],
    );
    let (status, body) = get(router(on.state.clone()), "/debug/alpha/deny").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Test deny message"));
    assert_eq!(
        get(router(on.state.clone()), "/debug/alpha/500").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (status, body) = get(metrics_router(on.state.clone()), "/debug/alpha/cache").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["apps/app"]["RoleARN"], ROLE);
    assert_eq!(v["apps/app"]["Audience"], "sts.amazonaws.com");
    assert_eq!(v["apps/app"]["TokenExpiration"], 86400);
    assert_eq!(v["apps/plain"]["RoleARN"], "");
}

#[tokio::test]
async fn metrics_endpoint_serves_reference_names() {
    let mut f = fixture(None, Duration::ZERO, false);
    list(&mut f.writer, vec![sa("apps", "app", Some(ROLE))]);
    admit(&f.state, &review(Some("admission.k8s.io/v1"), "u", pod())).await;
    let resp = metrics_router(f.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for needle in [
        "# TYPE http_request_count counter",
        "http_request_count{verb=\"POST\",path=\"/mutate\",code=\"200\"} 1",
        "# TYPE http_request_latencies histogram",
        "pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 1",
        "# TYPE pod_identity_webhook_missing_sa_count counter",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

mod tls_reload {
    use super::*;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::path::{Path, PathBuf};
    use tokio::net::TcpStream;

    pub struct Pair {
        pub cert_pem: String,
        pub key_pem: String,
        pub der: CertificateDer<'static>,
    }

    pub fn pair(cn: &str) -> Pair {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client trusting only `roots`, each connection a full handshake.
    pub fn client_config(roots: &[&Pair]) -> Arc<rustls::ClientConfig> {
        let mut store = rustls::RootCertStore::empty();
        for p in roots {
            store.add(p.der.clone()).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
        // every connection a full handshake, so each one shows the certificate served now
        cfg.resumption = rustls::client::Resumption::disabled();
        Arc::new(cfg)
    }

    /// A TLS connection to `addr` (the server named `localhost`) with `cfg`.
    pub async fn connect(
        addr: std::net::SocketAddr,
        cfg: Arc<rustls::ClientConfig>,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tokio_rustls::TlsConnector::from(cfg)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))
    }

    /// One TLS connection + `GET /healthz`; returns the served certificate.
    pub async fn fetch(
        addr: std::net::SocketAddr,
        cfg: Arc<rustls::ClientConfig>,
    ) -> Result<CertificateDer<'static>, String> {
        let tls = connect(addr, cfg).await?;
        let cert = tls.get_ref().1.peer_certificates().unwrap()[0]
            .clone()
            .into_owned();
        let request = http::Request::get("/healthz")
            .header("host", "localhost")
            .body(Full::default())
            .unwrap();
        let r = irsa_test::net::exchange(tls, request).await?;
        if r.status != 200 || !r.body.ends_with(b"ok") {
            return Err(format!("bad response: {r:?}"));
        }
        Ok(cert)
    }

    /// Writes a Secret-volume layout: `<dir>/..<gen>/tls.{crt,key}`, `<dir>/..data ->
    /// ..<gen>` (swapped atomically by rename), `<dir>/tls.crt -> ..data/tls.crt`.
    pub fn secret_volume_write(dir: &Path, generation: &str, p: &Pair) {
        let gen_dir = dir.join(format!("..{generation}"));
        std::fs::create_dir_all(&gen_dir).unwrap();
        std::fs::write(gen_dir.join("tls.crt"), &p.cert_pem).unwrap();
        std::fs::write(gen_dir.join("tls.key"), &p.key_pem).unwrap();
        let tmp = dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("..{generation}"), &tmp).unwrap();
        std::fs::rename(&tmp, dir.join("..data")).unwrap();
        for f in ["tls.crt", "tls.key"] {
            let link = dir.join(f);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(format!("..data/{f}"), &link).unwrap();
            }
        }
    }

    pub async fn start(
        cert: PathBuf,
        key: PathBuf,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::watch::Sender<bool>,
        Arc<Metrics>,
    ) {
        let mut f = fixture(None, Duration::ZERO, false);
        list(&mut f.writer, vec![]);
        std::mem::forget(f.writer);
        let suites = irsa_webhook::tls::CipherSuites {
            tls12: None,
            ignored: vec![],
        };
        let resolver = Arc::new(
            irsa_webhook::tls::ReloadingCert::new(cert, key, irsa_webhook::tls::provider(&suites))
                .unwrap(),
        );
        let cfg = irsa_webhook::tls::server_config(
            irsa_webhook::tls::MinVersion::Tls12,
            &suites,
            resolver.clone(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let metrics = Arc::new(f.state.metrics.clone());
        let m2 = metrics.clone();
        let mut stop = rx.clone();
        tokio::spawn(resolver.watch(
            Duration::from_millis(20),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
            move |r| {
                if r == irsa_webhook::tls::Reload::Reloaded {
                    Metrics::inc_result(&m2.cert_reloads, "ok");
                }
            },
        ));
        tokio::spawn(serve_tls(
            listener,
            Arc::new(cfg),
            router(f.state.clone()),
            rx,
            Duration::from_secs(5),
        ));
        (addr, tx, metrics)
    }

    /// Hammers the server with fresh handshakes until `until` returns true for a served
    /// certificate; fails on any failed handshake or request.
    pub async fn hammer_until(
        addr: std::net::SocketAddr,
        cfg: Arc<rustls::ClientConfig>,
        want: &CertificateDer<'static>,
        during: impl std::future::Future<Output = ()>,
    ) -> usize {
        let want = want.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for _ in 0..4 {
            let cfg = cfg.clone();
            let stop = stop.clone();
            clients.push(tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    fetch(addr, cfg.clone())
                        .await
                        .expect("a handshake failed during reload");
                    n += 1;
                }
                n
            }));
        }
        during.await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = fetch(addr, cfg.clone()).await.unwrap();
            if got == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the new certificate was never served"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.store(true, Ordering::SeqCst);
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        total
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn certificates_reload_without_failed_handshakes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (pair("cert-a"), pair("cert-b"), pair("cert-c"));
        let cfg = client_config(&[&a, &b, &c]);

        // 1. a Secret volume: symlink swap of ..data
        let vol = dir.path().join("secret");
        std::fs::create_dir_all(&vol).unwrap();
        secret_volume_write(&vol, "gen1", &a);
        let (addr, stop, metrics) = start(vol.join("tls.crt"), vol.join("tls.key")).await;
        assert_eq!(fetch(addr, cfg.clone()).await.unwrap(), a.der);
        let vol2 = vol.clone();
        let b2 = Pair {
            cert_pem: b.cert_pem.clone(),
            key_pem: b.key_pem.clone(),
            der: b.der.clone(),
        };
        let n = hammer_until(addr, cfg.clone(), &b.der, async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            secret_volume_write(&vol2, "gen2", &b2);
        })
        .await;
        assert!(n > 0);
        assert_eq!(fetch(addr, cfg.clone()).await.unwrap(), b.der);
        let _ = stop.send(true);

        // 2. plain files rewritten in place, key first: the mismatched pair in between is
        //    rejected and the old certificate keeps being served
        let plain = dir.path().join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        let (crt, key) = (plain.join("tls.crt"), plain.join("tls.key"));
        std::fs::write(&crt, &b.cert_pem).unwrap();
        std::fs::write(&key, &b.key_pem).unwrap();
        let (addr, stop, _m) = start(crt.clone(), key.clone()).await;
        assert_eq!(fetch(addr, cfg.clone()).await.unwrap(), b.der);
        let (crt2, key2) = (crt.clone(), key.clone());
        let c_cert = c.cert_pem.clone();
        let c_key = c.key_pem.clone();
        let b_der = b.der.clone();
        let cfg2 = cfg.clone();
        hammer_until(addr, cfg.clone(), &c.der, async move {
            std::fs::write(&key2, &c_key).unwrap();
            // give the poller several rounds to see the half-written pair
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(
                fetch(addr, cfg2).await.unwrap(),
                b_der,
                "a mismatched pair must not be served"
            );
            std::fs::write(&crt2, &c_cert).unwrap();
        })
        .await;
        let _ = stop.send(true);
        assert!(
            metrics
                .encode()
                .contains("irsa_webhook_certificate_reloads_total{result=\"ok\"} 1")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let p = tls_reload::pair("shutdown");
    let (crt, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&crt, &p.cert_pem).unwrap();
    std::fs::write(&key, &p.key_pem).unwrap();

    // a slow direct lookup makes /mutate take ~400 ms
    let mut api = FakeApi {
        delay: Duration::from_millis(400),
        ..Default::default()
    };
    api.sas
        .insert(("apps".into(), "app".into()), sa("apps", "app", Some(ROLE)));
    let mut f = fixture(Some(Arc::new(api)), Duration::from_secs(1), false);
    list(&mut f.writer, vec![]);
    let suites = irsa_webhook::tls::CipherSuites {
        tls12: None,
        ignored: vec![],
    };
    let resolver = Arc::new(
        irsa_webhook::tls::ReloadingCert::new(crt, key, irsa_webhook::tls::provider(&suites))
            .unwrap(),
    );
    let cfg =
        irsa_webhook::tls::server_config(irsa_webhook::tls::MinVersion::Tls12, &suites, resolver)
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve_tls(
        listener,
        Arc::new(cfg),
        router(f.state.clone()),
        rx,
        Duration::from_secs(5),
    ));

    let tls = tls_reload::connect(addr, tls_reload::client_config(&[&p]))
        .await
        .unwrap();
    let body = serde_json::to_vec(&review(Some("admission.k8s.io/v1"), "slow", pod())).unwrap();
    let request = http::Request::post("/mutate")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let answer = tokio::spawn(irsa_test::net::exchange(tls, request));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // stop while the request is in flight
    tx.send(true).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = r.text();
    assert_eq!(r.status, 200, "{text}");
    assert!(text.contains("\"uid\":\"slow\""), "{text}");
    assert!(text.contains("\"patchType\":\"JSONPatch\""), "{text}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    // the listener is closed
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The production wiring (`run_with`): kube client, reflector, direct lookups through the
/// API, TLS from files, readiness and the shutdown sequence, against a fake API server.
mod end_to_end {
    use super::*;
    use axum::extract::{Path as UrlPath, RawQuery};
    use axum::response::IntoResponse;

    fn sa_json(ns: &str, name: &str, role: Option<&str>) -> Value {
        let mut v = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": "7",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}});
        if let Some(r) = role {
            v["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = json!(r);
        }
        v
    }

    /// A fake kube-apiserver: lists ServiceAccounts (`apps/listed` only), holds watches
    /// open, and answers single GETs (which also know `apps/late`).
    fn fake_api(gets: Arc<AtomicUsize>) -> axum::Router {
        axum::Router::new()
            .route(
                "/api/v1/serviceaccounts",
                axum::routing::get(|RawQuery(q): RawQuery| async move {
                    let q = q.unwrap_or_default();
                    if q.contains("sendInitialEvents=true") {
                        // as an API server with the WatchList feature off (1.27–1.31 by
                        // default) answers a streaming list
                        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({
                            "apiVersion": "v1", "kind": "Status", "status": "Failure",
                            "reason": "Invalid", "code": 422,
                            "message": "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"})))
                        .into_response();
                    }
                    if q.contains("watch=true") {
                        let body = axum::body::Body::from_stream(futures::stream::pending::<
                            Result<axum::body::Bytes, std::io::Error>,
                        >());
                        return ([("content-type", "application/json")], body).into_response();
                    }
                    axum::Json(json!({"apiVersion": "v1", "kind": "ServiceAccountList",
                        "metadata": {"resourceVersion": "10"},
                        "items": [sa_json("apps", "listed", Some(ROLE)), sa_json("apps", "default", None)]}))
                    .into_response()
                }),
            )
            .route(
                "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
                axum::routing::get(move |UrlPath((ns, name)): UrlPath<(String, String)>| {
                    let gets = gets.clone();
                    async move {
                        gets.fetch_add(1, Ordering::SeqCst);
                        if ns == "apps" && name == "late" {
                            return axum::Json(sa_json("apps", "late", Some(ROLE))).into_response();
                        }
                        (StatusCode::NOT_FOUND, axum::Json(json!({"apiVersion": "v1", "kind": "Status",
                            "status": "Failure", "reason": "NotFound", "code": 404,
                            "message": format!("serviceaccounts \"{name}\" not found")})))
                        .into_response()
                    }
                }),
            )
    }

    /// `GET path` on the metrics port: (status, body), or `None` when nothing answers.
    async fn plain_get(port: u16, path: &str) -> Option<(u16, String)> {
        let r = irsa_test::net::try_get(&format!("http://127.0.0.1:{port}{path}"))
            .await
            .ok()?;
        Some((r.status, r.text().to_owned()))
    }

    async fn tls_post(port: u16, root: &tls_reload::Pair, body: &[u8]) -> irsa_test::net::Reply {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let tls = tls_reload::connect(addr, tls_reload::client_config(&[root]))
            .await
            .unwrap();
        let request = http::Request::post("/mutate")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        irsa_test::net::exchange(tls, request).await.unwrap()
    }

    fn response_json(r: &irsa_test::net::Reply) -> Value {
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"))
    }

    /// The configuration of a webhook on `port` (metrics on `metrics_port`) with the TLS
    /// pair in `dir`, whose API server is the fake on `api_port`.
    fn config(
        dir: &std::path::Path,
        port: u16,
        metrics_port: u16,
        api_port: u16,
    ) -> irsa_webhook::Config {
        irsa_webhook::Config {
            listen_address: Some("127.0.0.1".parse().unwrap()),
            port,
            metrics_port,
            tls_cert: dir.join("tls.crt"),
            tls_key: dir.join("tls.key"),
            tls_min_version: String::new(),
            tls_cipher_suites: String::new(),
            in_cluster: false,
            kubeconfig: None,
            kube_api: Some(format!("http://127.0.0.1:{api_port}")),
            namespace: "irsa-system".into(),
            settings: Settings::default(),
            watch_config_map: false,
            container_credentials_config: None,
            sa_lookup_grace_period: Duration::from_millis(800),
            enable_debugging_handlers: true,
            file_poll_interval: Duration::from_millis(50),
            shutdown_delay: Duration::from_millis(600),
            shutdown_timeout: Duration::from_secs(2),
            max_body_bytes: 1 << 20,
            max_concurrency: 64,
            compose_role_arn: false,
            imds_endpoint: None,
        }
    }

    /// Waits (bounded) until the server on `metrics_port` is ready, failing when it exits.
    async fn wait_ready<T: std::fmt::Debug>(
        metrics_port: u16,
        server: &mut tokio::task::JoinHandle<T>,
    ) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((200, _)) = plain_get(metrics_port, "/readyz").await {
                return;
            }
            assert!(!server.is_finished(), "server exited: {:?}", server.await);
            assert!(Instant::now() < deadline, "never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Admits a pod of ServiceAccount `sa` (review `uid`) over TLS on `port`; the
    /// `AWS_ROLE_ARN` of its first container after the patch.
    async fn admitted_role(
        port: u16,
        root: &tls_reload::Pair,
        uid: &str,
        sa: &str,
    ) -> Option<String> {
        let mut pod = pod();
        pod["spec"]["serviceAccountName"] = json!(sa);
        let body =
            serde_json::to_vec(&review(Some("admission.k8s.io/v1"), uid, pod.clone())).unwrap();
        let resp = response_json(&tls_post(port, root, &body).await);
        assert_eq!(resp["response"]["uid"], uid);
        let out = patched(&resp, &pod);
        env_of(&out["spec"]["containers"][0], "AWS_ROLE_ARN")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_against_a_fake_api_server() {
        let gets = Arc::new(AtomicUsize::new(0));
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_port = api.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(api, fake_api(gets.clone())).await });

        let dir = tempfile::tempdir().unwrap();
        let p = tls_reload::pair("e2e");
        std::fs::write(dir.path().join("tls.crt"), &p.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), &p.key_pem).unwrap();
        let (port, metrics_port) = (irsa_test::free_port(), irsa_test::free_port());
        let cfg = config(dir.path(), port, metrics_port, api_port);
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let mut server = tokio::spawn(irsa_webhook::run_with(cfg, rx));

        // ready once the list is in
        wait_ready(metrics_port, &mut server).await;

        // a listed SA: mutated from the cache, no API call
        let role = admitted_role(port, &p, "e2e-1", "listed").await;
        assert_eq!(role.as_deref(), Some(ROLE));

        // an SA created after the list: found by the direct lookup
        let role = admitted_role(port, &p, "e2e-2", "late").await;
        assert_eq!(role.as_deref(), Some(ROLE));

        // the stripped cache holds no foreign annotations
        let (_, dump) = plain_get(metrics_port, "/debug/alpha/cache").await.unwrap();
        assert!(dump.contains("\"apps/listed\""), "{dump}");
        assert!(!dump.contains("last-applied"), "{dump}");
        let (_, metrics) = plain_get(metrics_port, "/metrics").await.unwrap();
        assert!(
            metrics.contains("irsa_webhook_sa_lookups_total{result=\"found\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 2"),
            "{metrics}"
        );

        // SIGTERM: readiness false while still serving, then a clean exit
        tx.send("SIGTERM").await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (code, _) = plain_get(metrics_port, "/readyz").await.unwrap();
        assert_eq!(code, 503);
        let mut listed = pod();
        listed["spec"]["serviceAccountName"] = json!("listed");
        let body =
            serde_json::to_vec(&review(Some("admission.k8s.io/v1"), "e2e-3", listed)).unwrap();
        assert_eq!(
            tls_post(port, &p, &body).await.status,
            200,
            "still serving during the drain delay"
        );
        let exit = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(exit, irsa_webhook::Exit::Clean);
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        );
    }
}

/// `--compose-role-arn` against amazon-ec2-metadata-mock (the real IMDS implementation,
/// scripts/deps/imds-mock.sh): IMDSv2-only and v1+v2, the partition from the region, and a
/// bounded failure when nothing answers.
#[tokio::test]
async fn compose_role_arn_reads_the_instance_identity_document() {
    let Some(mock) = irsa_test::external(
        ".cache/imds-mock/bin/ec2-metadata-mock",
        "amazon-ec2-metadata-mock",
        "scripts/deps/imds-mock.sh",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aemm.json");
    std::fs::write(
        &config,
        r#"{"dynamic": {"values": {"instance-identity-document": {"accountId": "111122223333", "region": "us-gov-west-1"}}}}"#,
    )
    .unwrap();
    for imdsv2_only in [true, false] {
        let port = irsa_test::free_port();
        let mut cmd = std::process::Command::new(&mock);
        cmd.args(["-n", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(&config)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if imdsv2_only {
            cmd.arg("-I");
        }
        let _mock = irsa_test::Killed(cmd.spawn().expect("start ec2-metadata-mock"));
        irsa_test::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(20));
        let endpoint = format!("http://127.0.0.1:{port}");
        let compose = irsa_webhook::compose_role_arn(Some(&endpoint))
            .await
            .unwrap_or_else(|e| panic!("imdsv2_only={imdsv2_only}: {e}"));
        assert_eq!(compose.partition, "aws-us-gov");
        assert_eq!(compose.account_id, "111122223333");
        // The composed ARN, as a pod's role-arn annotation `app/reader` becomes.
        let settings = Settings {
            compose_role_arn: Some(compose),
            ..Settings::default()
        };
        let ann = BTreeMap::from([(
            "eks.amazonaws.com/role-arn".to_owned(),
            "app/reader".to_owned(),
        )]);
        let c = irsa_mutate::ServiceAccountConfig::from_annotations(&ann, &settings);
        assert_eq!(
            c.role_arn.as_deref(),
            Some("arn:aws-us-gov:iam::111122223333:role/app/reader")
        );
    }

    // Nothing listening: an error, within the client's bounded retries.
    let port = irsa_test::free_port();
    let t = Instant::now();
    let e = irsa_webhook::compose_role_arn(Some(&format!("http://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("instance metadata"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}
