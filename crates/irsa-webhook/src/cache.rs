//! The ServiceAccount cache (a kube-runtime reflector store keeping only name, namespace,
//! resourceVersion and the annotations under our prefix), the direct lookup on a miss,
//! and the watchers of the optional ConfigMap and container-credentials file.
//!
//! Kubernetes access goes through two seams so tests need no API server: the store is fed
//! through a [`Writer`] (by [`run_sa_reflector`] in production, by hand in tests), and
//! direct lookups go through the [`SaFetcher`] trait ([`KubeFetcher`] in production).

use crate::metrics::Metrics;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use irsa_mutate::{ConfigMapConfig, ContainerCredentialsConfig};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::watcher;
use kube::runtime::{WatchStreamExt, watcher::Event};
use kube::{Api, Client};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// The longest direct-lookup wait allowed (the grace period is capped to this).
pub const MAX_GRACE: Duration = Duration::from_secs(1);

/// A value shared between a watcher (writer) and the handlers (readers).
#[derive(Debug)]
pub struct Shared<T>(RwLock<Arc<T>>);

impl<T: Default> Default for Shared<T> {
    fn default() -> Self {
        Self(RwLock::new(Arc::new(T::default())))
    }
}

impl<T> Shared<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Self(RwLock::new(Arc::new(v)))
    }
    /// The current value.
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// Replaces the value.
    pub fn set(&self, v: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(v);
    }
}

/// Direct ServiceAccount lookups, used on a cache miss.
pub trait SaFetcher: Send + Sync + 'static {
    /// `Ok(None)` when the ServiceAccount does not exist.
    fn fetch<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ServiceAccount>, String>>;
}

/// [`SaFetcher`] through the Kubernetes API.
#[derive(Clone)]
pub struct KubeFetcher {
    /// The client.
    pub client: Client,
}

impl SaFetcher for KubeFetcher {
    fn fetch<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ServiceAccount>, String>> {
        Box::pin(async move {
            let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
            api.get_opt(name).await.map_err(|e| e.to_string())
        })
    }
}

/// Keeps only what the webhook needs of a ServiceAccount: name, namespace,
/// resourceVersion and the annotations under `<prefix>/`.
pub fn strip(sa: &mut ServiceAccount, prefix: &str) {
    let keep = format!("{prefix}/");
    let meta = &mut sa.metadata;
    let annotations = meta.annotations.take().map(|a| {
        a.into_iter()
            .filter(|(k, _)| k.starts_with(&keep))
            .collect::<std::collections::BTreeMap<_, _>>()
    });
    *meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: meta.name.take(),
        namespace: meta.namespace.take(),
        resource_version: meta.resource_version.take(),
        annotations: annotations.filter(|a| !a.is_empty()),
        ..Default::default()
    };
    sa.automount_service_account_token = None;
    sa.image_pull_secrets = None;
    sa.secrets = None;
}

/// Where a ServiceAccount came from.
#[derive(Debug, Clone)]
pub enum SaFound {
    /// The cache had it.
    Cached(Arc<ServiceAccount>),
    /// The cache missed; the direct lookup found it.
    Fetched(Arc<ServiceAccount>),
    /// Not found: cache miss and the lookup said NotFound, failed, timed out or is off.
    Missing(&'static str),
}

impl SaFound {
    /// The ServiceAccount, if any.
    pub fn service_account(&self) -> Option<&ServiceAccount> {
        match self {
            SaFound::Cached(sa) | SaFound::Fetched(sa) => Some(sa),
            SaFound::Missing(_) => None,
        }
    }
}

/// The ServiceAccount cache as the handlers see it.
#[derive(Clone)]
pub struct SaCache {
    store: Store<ServiceAccount>,
    fetcher: Option<Arc<dyn SaFetcher>>,
    grace: Duration,
    prefix: String,
    synced: Arc<AtomicBool>,
    lookups: Arc<Semaphore>,
}

impl SaCache {
    /// A cache over `store`. `grace` bounds a direct lookup on a miss (capped at
    /// [`MAX_GRACE`]; zero turns lookups off). Spawns a task that marks the cache synced
    /// once the store has seen its first complete list (`InitDone`), so it must be called
    /// within a tokio runtime.
    pub fn new(
        store: Store<ServiceAccount>,
        fetcher: Option<Arc<dyn SaFetcher>>,
        grace: Duration,
        prefix: &str,
    ) -> Self {
        let synced = Arc::new(AtomicBool::new(false));
        let s = synced.clone();
        let st = store.clone();
        tokio::spawn(async move {
            if st.wait_until_ready().await.is_ok() {
                s.store(true, Ordering::SeqCst);
                tracing::info!(service_accounts = st.len(), "ServiceAccount cache synced");
            }
        });
        Self {
            store,
            fetcher,
            grace: grace.min(MAX_GRACE),
            prefix: prefix.to_string(),
            synced,
            // the reference's lookup queue allows bursts of 20
            lookups: Arc::new(Semaphore::new(20)),
        }
    }

    /// True once the store has completed its first list.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// The effective grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Cached ServiceAccounts.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Every cached ServiceAccount (for the debug dump).
    pub fn all(&self) -> Vec<Arc<ServiceAccount>> {
        self.store.state()
    }

    /// Finds a ServiceAccount: the cache, else a direct lookup bounded by the grace
    /// period. A miss the lookup does not resolve increments
    /// `pod_identity_webhook_missing_sa_count` (the reference counts a miss that waiting
    /// for the cache did not resolve, or every miss when it does not wait).
    pub async fn get(&self, namespace: &str, name: &str, metrics: &Metrics) -> SaFound {
        if let Some(sa) = self.store.get(&ObjectRef::new(name).within(namespace)) {
            return SaFound::Cached(sa);
        }
        let Some(fetcher) = self.fetcher.as_ref().filter(|_| !self.grace.is_zero()) else {
            metrics.missing_sa.inc();
            return SaFound::Missing("cache miss, direct lookup disabled");
        };
        let lookup = async {
            let _permit = self.lookups.acquire().await.ok()?;
            Some(fetcher.fetch(namespace, name).await)
        };
        let (result, found) = match tokio::time::timeout(self.grace, lookup).await {
            Err(_) => (
                "timeout",
                SaFound::Missing("cache miss, direct lookup timed out"),
            ),
            Ok(None) => ("error", SaFound::Missing("cache miss, lookup unavailable")),
            Ok(Some(Ok(Some(mut sa)))) => {
                strip(&mut sa, &self.prefix);
                ("found", SaFound::Fetched(Arc::new(sa)))
            }
            Ok(Some(Ok(None))) => ("not_found", SaFound::Missing("ServiceAccount not found")),
            Ok(Some(Err(e))) => {
                tracing::warn!(namespace, service_account = name, error = %e, "direct ServiceAccount lookup failed");
                (
                    "error",
                    SaFound::Missing("cache miss, direct lookup failed"),
                )
            }
        };
        Metrics::inc_result(&metrics.sa_lookups, result);
        if matches!(found, SaFound::Missing(_)) {
            metrics.missing_sa.inc();
        }
        found
    }
}

/// Feeds a watcher event stream into the store until the stream ends or `restart` fires.
/// Returns true if it stopped because of `restart`.
pub async fn drive<S>(
    stream: S,
    writer: &mut Writer<ServiceAccount>,
    restart: &Notify,
    metrics: &Metrics,
) -> bool
where
    S: Stream<Item = Result<Event<ServiceAccount>, watcher::Error>>,
{
    futures::pin_mut!(stream);
    loop {
        tokio::select! {
            _ = restart.notified() => return true,
            ev = stream.next() => match ev {
                None => return false,
                Some(Ok(ev)) => {
                    writer.apply_watcher_event(&ev);
                    if matches!(ev, Event::Apply(_) | Event::InitApply(_)) {
                        metrics.used.set(1);
                    }
                    if matches!(ev, Event::InitDone | Event::Apply(_) | Event::Delete(_)) {
                        metrics.sa_cache_size.set(writer.as_reader().len() as i64);
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "ServiceAccount watch error; retrying with backoff"),
            }
        }
    }
}

/// Runs the cluster-wide ServiceAccount reflector forever. `restart` (the debug
/// `cache/clear` handler) drops the watch and re-lists.
pub async fn run_sa_reflector(
    client: Client,
    mut writer: Writer<ServiceAccount>,
    prefix: String,
    restart: Arc<Notify>,
    metrics: Metrics,
) {
    let api: Api<ServiceAccount> = Api::all(client);
    loop {
        let p = prefix.clone();
        let stream = watcher(api.clone(), watcher::Config::default().any_semantic())
            .default_backoff()
            .modify(move |sa| strip(sa, &p));
        if drive(stream, &mut writer, &restart, &metrics).await {
            tracing::info!("ServiceAccount cache cleared; re-listing");
        } else {
            tracing::warn!("ServiceAccount watch ended; restarting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Applies one ConfigMap watch event to the shared ConfigMap configuration. A parse
/// error keeps the previous configuration; a delete clears it (the reference kept stale
/// entries). Returns the outcome for metrics.
pub fn apply_config_map_event(
    ev: &Event<ConfigMap>,
    target: &Shared<ConfigMapConfig>,
    seen_in_list: &mut bool,
) -> Option<&'static str> {
    let apply = |cm: &ConfigMap| -> &'static str {
        if cm.metadata.name.as_deref() != Some(irsa_mutate::CONFIG_MAP_NAME) {
            return "ignored";
        }
        let data = cm
            .data
            .as_ref()
            .and_then(|d| d.get(irsa_mutate::CONFIG_MAP_KEY))
            .map(String::as_str)
            .unwrap_or("");
        if data.trim().is_empty() {
            target.set(ConfigMapConfig::default());
            return "empty";
        }
        match ConfigMapConfig::parse_with_warnings(data) {
            Ok((c, skipped)) => {
                for e in &skipped {
                    tracing::warn!(error = %e, "ConfigMap entry skipped; the other entries apply");
                }
                tracing::info!(
                    entries = c.len(),
                    skipped = skipped.len(),
                    "ConfigMap configuration loaded"
                );
                target.set(c);
                "ok"
            }
            Err(e) => {
                tracing::warn!(error = %e, "invalid ConfigMap configuration; keeping the previous one");
                "error"
            }
        }
    };
    match ev {
        Event::Init => {
            *seen_in_list = false;
            None
        }
        Event::InitApply(cm) => {
            *seen_in_list = true;
            Some(apply(cm))
        }
        Event::Apply(cm) => Some(apply(cm)),
        Event::InitDone => {
            if !*seen_in_list {
                target.set(ConfigMapConfig::default());
            }
            None
        }
        Event::Delete(cm) if cm.metadata.name.as_deref() == Some(irsa_mutate::CONFIG_MAP_NAME) => {
            target.set(ConfigMapConfig::default());
            Some("deleted")
        }
        Event::Delete(_) => None,
    }
}

/// Watches the ConfigMap `pod-identity-webhook` in `namespace` forever; `synced` turns
/// true after the first complete list.
pub async fn run_config_map_watch(
    client: Client,
    namespace: String,
    target: Arc<Shared<ConfigMapConfig>>,
    synced: Arc<AtomicBool>,
    metrics: Metrics,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let cfg = watcher::Config::default()
        .fields(&format!("metadata.name={}", irsa_mutate::CONFIG_MAP_NAME))
        .any_semantic();
    loop {
        let stream = watcher(api.clone(), cfg.clone()).default_backoff();
        futures::pin_mut!(stream);
        let mut seen = false;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    if let Some(r) = apply_config_map_event(&ev, &target, &mut seen) {
                        Metrics::inc_result(&metrics.config_reloads, r);
                    }
                    if matches!(ev, Event::InitDone) {
                        synced.store(true, Ordering::SeqCst);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ConfigMap watch error; retrying with backoff")
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Loads the container-credentials file once: a missing or empty file clears the
/// configuration, malformed JSON keeps the previous one (like the reference).
pub struct CcFile {
    path: PathBuf,
    last: Option<Vec<u8>>,
}

impl CcFile {
    /// Watches `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path, last: None }
    }

    /// Re-reads the file; applies it if it changed. Returns the outcome, `None` when
    /// unchanged.
    pub fn check(&mut self, target: &Shared<ContainerCredentialsConfig>) -> Option<&'static str> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the container credentials config");
                return Some("error");
            }
        };
        if self.last.as_deref() == Some(&bytes[..]) {
            return None;
        }
        self.last = Some(bytes.clone());
        let text = String::from_utf8_lossy(&bytes);
        if text.trim().is_empty() {
            target.set(ContainerCredentialsConfig::default());
            tracing::info!(path = %self.path.display(), "container credentials config is missing or empty; no identities");
            return Some("empty");
        }
        match ContainerCredentialsConfig::parse(&text) {
            Ok(c) => {
                tracing::info!(path = %self.path.display(), identities = c.len(), "container credentials config loaded");
                target.set(c);
                Some("ok")
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "invalid container credentials config; keeping the previous one");
                Some("error")
            }
        }
    }

    /// Polls the file every `interval` forever (symlink swaps of ConfigMap volumes are
    /// seen because the path is re-read, not watched by inode).
    pub async fn run(
        mut self,
        interval: Duration,
        target: Arc<Shared<ContainerCredentialsConfig>>,
        metrics: Metrics,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Some(r) = self.check(&target) {
                Metrics::inc_result(&metrics.config_reloads, r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sa(ns: &str, name: &str, ann: &[(&str, &str)]) -> ServiceAccount {
        let mut s = ServiceAccount::default();
        s.metadata.name = Some(name.into());
        s.metadata.namespace = Some(ns.into());
        s.metadata.annotations = Some(
            ann.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        s
    }

    #[test]
    fn strip_keeps_only_prefix_annotations() {
        let mut s = sa(
            "ns",
            "app",
            &[
                ("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/x"),
                ("kubectl.kubernetes.io/last-applied-configuration", "{...}"),
                ("eks.amazonaws.comX/role-arn", "nope"),
            ],
        );
        s.metadata.labels = Some(BTreeMap::from([("a".into(), "b".into())]));
        s.metadata.resource_version = Some("42".into());
        s.secrets = Some(vec![Default::default()]);
        strip(&mut s, "eks.amazonaws.com");
        let ann = s.metadata.annotations.unwrap();
        assert_eq!(ann.len(), 1);
        assert!(ann.contains_key("eks.amazonaws.com/role-arn"));
        assert!(s.metadata.labels.is_none());
        assert_eq!(s.metadata.resource_version.as_deref(), Some("42"));
        assert!(s.secrets.is_none());
    }

    #[test]
    fn config_map_events() {
        let target = Shared::<ConfigMapConfig>::default();
        let mut seen = false;
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("pod-identity-webhook".into());
        cm.data = Some(BTreeMap::from([(
            "config".to_string(),
            r#"{"ns/sa":{"RoleARN":"arn:aws:iam::111122223333:role/r"}}"#.to_string(),
        )]));
        assert_eq!(
            apply_config_map_event(&Event::Init, &target, &mut seen),
            None
        );
        assert_eq!(
            apply_config_map_event(&Event::InitApply(cm.clone()), &target, &mut seen),
            Some("ok")
        );
        apply_config_map_event(&Event::InitDone, &target, &mut seen);
        assert_eq!(target.get().len(), 1);
        let mut bad = cm.clone();
        bad.data = Some(BTreeMap::from([("config".to_string(), "{".to_string())]));
        assert_eq!(
            apply_config_map_event(&Event::Apply(bad), &target, &mut seen),
            Some("error")
        );
        assert_eq!(
            target.get().len(),
            1,
            "a bad update keeps the previous config"
        );
        let mut partly_bad = cm.clone();
        partly_bad.data = Some(BTreeMap::from([(
            "config".to_string(),
            r#"{"no-slash":{"RoleARN":"x"},"ns/other":{"RoleARN":"arn:aws:iam::111122223333:role/o"}}"#
                .to_string(),
        )]));
        assert_eq!(
            apply_config_map_event(&Event::Apply(partly_bad), &target, &mut seen),
            Some("ok")
        );
        let now = target.get();
        assert_eq!(
            now.len(),
            1,
            "the bad entry is skipped, the good one applies"
        );
        assert!(now.get("ns", "other").is_some());
        assert_eq!(
            apply_config_map_event(&Event::Delete(cm), &target, &mut seen),
            Some("deleted")
        );
        assert!(target.get().is_empty());
    }
}
