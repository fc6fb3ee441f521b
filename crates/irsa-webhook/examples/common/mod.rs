//! What the load examples share: the pod they admit, the ServiceAccount store behind the
//! webhook they run in-process, and the process measurements they report.

// Each example uses a part of this module.
#![allow(dead_code)]

use irsa_mutate::Settings;
use irsa_webhook::SaStore;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The uid of review `i`.
pub fn uid(i: u64) -> String {
    format!("00000000-0000-0000-0000-{i:012}")
}

/// An AdmissionReview v1 (uid [`uid`]`(i)`) for a 3-container pod (env, probes, mounts,
/// projected token volume) created by a ReplicaSet under `service_account` of `namespace`.
pub fn review(i: u64, namespace: &str, service_account: &str) -> Vec<u8> {
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
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid(i),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "web-7d9f8c-", "namespace": namespace,
                             "labels": {"app": "web", "pod-template-hash": "7d9f8c"}},
                "spec": {
                    "serviceAccountName": service_account,
                    "containers": [container("web"), container("worker"), container("proxy")],
                    "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]
                }
            },
            "dryRun": false
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The webhook's settings in the examples: region `eu-west-1`, regional STS endpoint.
pub fn settings() -> Arc<Settings> {
    Arc::new(Settings {
        aws_default_region: "eu-west-1".into(),
        sts_regional_endpoint: true,
        ..Settings::default()
    })
}

/// A synced store of `n` ServiceAccounts of namespace `apps`, each annotated with a role:
/// `app` (the one [`review`]s name), then `sa-1` … `sa-(n-1)`.
pub fn store(settings: Arc<Settings>, n: usize) -> SaStore {
    let store = SaStore::new(settings);
    store.apply(&Event::Init);
    for i in 0..n {
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
    store
}

/// utime + stime of `pid`, in clock ticks (USER_HZ, 100 per second on Linux), from
/// `/proc/PID/stat`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the fields after the command name, which is in parentheses: utime is field 14,
    // stime field 15
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// (VmRSS, VmHWM) of `pid`, in KiB (0 where unknown).
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `p` percentile (0 < p ≤ 1) of the sorted latencies `sorted` (zero when empty).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
    sorted
        .get(idx.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}
