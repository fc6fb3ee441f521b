//! CPU of one admission without the network: decode the AdmissionReview of the load
//! harness's 3-container pod, look its ServiceAccount up in a 5,000-entry store, resolve,
//! mutate and encode the response, in a loop on one thread; prints the time per
//! admission of each step and of the whole.
//!
//! ```text
//! cargo run --release -p irsa-webhook --example admission_cpu -- [--iterations 200000]
//! ```

use irsa_mutate::{Lookup, Pod, Settings};
use irsa_webhook::{SaStore, admission_allowed, decode_admission_review};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use serde_json::json;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn review() -> Vec<u8> {
    let container = |name: &str| {
        json!({
            "name": name, "image": format!("registry.example/{name}:1.2.3"),
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME",
                     "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": true,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "startupProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
        })
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "apps",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "web-7d9f8c-", "namespace": "apps",
                             "labels": {"app": "web", "pod-template-hash": "7d9f8c"}},
                "spec": {
                    "serviceAccountName": "app",
                    "containers": [container("web"), container("worker"), container("proxy")],
                    "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]
                }
            },
            "dryRun": false
        }
    }))
    .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let settings = Arc::new(Settings {
        aws_default_region: "eu-west-1".into(),
        sts_regional_endpoint: true,
        ..Settings::default()
    });
    let store = SaStore::new(settings.clone());
    store.apply(&Event::Init);
    for i in 0..5000 {
        store.apply(&Event::InitApply(ObjectMeta {
            name: Some(if i == 0 {
                "app".into()
            } else {
                format!("sa-{i}")
            }),
            namespace: Some("apps".into()),
            annotations: Some(BTreeMap::from([(
                "eks.amazonaws.com/role-arn".to_string(),
                format!("arn:aws:iam::111122223333:role/role-{i}"),
            )])),
            ..ObjectMeta::default()
        }));
    }
    store.apply(&Event::InitDone);
    let body = review();
    let mut rng = rand::thread_rng();
    let mut steps = [Duration::ZERO; 5];
    let total = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let Ok(review) = decode_admission_review(black_box(&body)) else {
            return;
        };
        let env = review.envelope();
        let t1 = Instant::now();
        let Ok(pod) = Pod::from_raw(review.object) else {
            return;
        };
        let sa = pod.service_account();
        let config = store.get(&review.namespace, &sa);
        let t2 = Instant::now();
        let decision = irsa_mutate::resolve(
            &Lookup {
                namespace: &review.namespace,
                service_account: &sa,
                service_account_config: config.as_deref(),
                config_map: None,
                container_credentials: None,
            },
            &settings,
        );
        let t3 = Instant::now();
        let Ok(Some(patch)) = irsa_mutate::mutate_pod(&pod, &decision, &settings, &mut rng) else {
            return;
        };
        let t4 = Instant::now();
        black_box(admission_allowed(&env, Some(patch.as_bytes())));
        let t5 = Instant::now();
        for (s, d) in steps
            .iter_mut()
            .zip([t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4])
        {
            *s += d;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "admission CPU, {} bytes AdmissionReview, {n} iterations: {:.2} µs per admission",
        body.len(),
        per(total.elapsed())
    );
    for (name, d) in [
        "decode envelope",
        "read pod + SA lookup",
        "resolve",
        "mutate (patch text)",
        "encode response",
    ]
    .iter()
    .zip(steps)
    {
        println!("  {name:<22} {:.2} µs", per(d));
    }
}
