//! The ServiceAccount cache (a watch of every ServiceAccount, each parsed into its name,
//! namespace and annotations only and kept as the mutation settings it resolves to,
//! nothing more), the direct lookup on a miss,
//! and the watchers of the optional ConfigMap and container-credentials file.
//!
//! Kubernetes access goes through two seams so tests need no API server: the store is fed
//! watcher events ([`SaStore::apply`], by [`run_sa_reflector`] in production, by hand in
//! tests), and direct lookups go through the [`SaFetcher`] trait ([`KubeFetcher`] in
//! production).

use crate::metrics::Metrics;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use irsa_mutate::{ConfigMapConfig, ContainerCredentialsConfig, ServiceAccountConfig, Settings};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use kube::runtime::{WatchStreamExt, watcher::Event};
use kube::{Api, Client};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
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
    /// The ServiceAccount's metadata; `Ok(None)` when it does not exist.
    fn fetch<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, String>>;
}

/// [`SaFetcher`] through the Kubernetes API (a metadata-only GET).
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
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, String>> {
        Box::pin(async move {
            let api: Api<PartialObjectMeta<ServiceAccount>> =
                Api::namespaced(self.client.clone(), namespace);
            api.get_opt(name)
                .await
                .map(|o| o.map(|m| m.metadata))
                .map_err(|e| e.to_string())
        })
    }
}

/// namespace → name → settings. Namespaces are stored once; every ServiceAccount without
/// annotations under the prefix shares one settings value.
type SaMap = HashMap<Arc<str>, HashMap<Box<str>, Arc<ServiceAccountConfig>>>;

/// The ServiceAccounts as the mutation needs them: for each `namespace/name`, the
/// [`ServiceAccountConfig`] its `<prefix>/` annotations resolve to under the flags,
/// computed once when the watch delivers it. Nothing else of the object is kept.
#[derive(Clone)]
pub struct SaStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    settings: Arc<Settings>,
    prefix: String,
    unannotated: Arc<ServiceAccountConfig>,
    live: RwLock<SaMap>,
    /// The list being received (between `Init` and `InitDone`).
    building: Mutex<Option<SaMap>>,
    synced: AtomicBool,
    ready: Notify,
}

fn insert(map: &mut SaMap, namespace: &str, name: &str, config: Arc<ServiceAccountConfig>) {
    match map.get_mut(namespace) {
        Some(names) => {
            names.insert(name.into(), config);
        }
        None => {
            map.insert(namespace.into(), HashMap::from([(name.into(), config)]));
        }
    }
}

impl SaStore {
    /// An empty, unsynced store for ServiceAccounts read under `settings`.
    pub fn new(settings: Arc<Settings>) -> Self {
        let unannotated = Arc::new(ServiceAccountConfig::from_annotations(
            &BTreeMap::new(),
            &settings,
        ));
        Self {
            inner: Arc::new(StoreInner {
                prefix: format!("{}/", settings.annotation_prefix),
                settings,
                unannotated,
                live: RwLock::new(HashMap::new()),
                building: Mutex::new(None),
                synced: AtomicBool::new(false),
                ready: Notify::new(),
            }),
        }
    }

    /// The settings a ServiceAccount's metadata resolves to (shared when it has no
    /// annotation under the prefix).
    pub fn config_of(&self, meta: &ObjectMeta) -> Arc<ServiceAccountConfig> {
        let ours: BTreeMap<String, String> = meta
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(&self.inner.prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if ours.is_empty() {
            return self.inner.unannotated.clone();
        }
        Arc::new(ServiceAccountConfig::from_annotations(
            &ours,
            &self.inner.settings,
        ))
    }

    /// Applies one watcher event: `Init` starts a new list, `InitApply` adds to it,
    /// `InitDone` replaces the store with it at once (and marks the store synced);
    /// `Apply` and `Delete` change the live store.
    pub fn apply(&self, ev: &Event<ObjectMeta>) {
        let key = |m: &ObjectMeta| {
            Some((
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().filter(|n| !n.is_empty())?,
            ))
        };
        let mut building = self
            .inner
            .building
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match ev {
            Event::Init => *building = Some(HashMap::new()),
            Event::InitApply(m) => {
                if let Some((ns, name)) = key(m) {
                    let config = self.config_of(m);
                    insert(
                        building.get_or_insert_with(HashMap::new),
                        &ns,
                        &name,
                        config,
                    );
                }
            }
            Event::InitDone => {
                let mut list = building.take().unwrap_or_default();
                list.shrink_to_fit();
                list.values_mut().for_each(HashMap::shrink_to_fit);
                *self.inner.live.write().unwrap_or_else(|p| p.into_inner()) = list;
                if !self.inner.synced.swap(true, Ordering::SeqCst) {
                    self.inner.ready.notify_waiters();
                }
            }
            Event::Apply(m) => {
                if let Some((ns, name)) = key(m) {
                    let config = self.config_of(m);
                    let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
                    insert(&mut live, &ns, &name, config);
                }
            }
            Event::Delete(m) => {
                if let Some((ns, name)) = key(m) {
                    let mut live = self.inner.live.write().unwrap_or_else(|p| p.into_inner());
                    if let Some(names) = live.get_mut(ns.as_str()) {
                        names.remove(name.as_str());
                        if names.is_empty() {
                            live.remove(ns.as_str());
                        }
                    }
                }
            }
        }
    }

    /// The settings of `namespace/name`, if the store has it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<ServiceAccountConfig>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(namespace)?
            .get(name)
            .cloned()
    }

    /// True once a complete list has been received.
    pub fn is_synced(&self) -> bool {
        self.inner.synced.load(Ordering::SeqCst)
    }

    /// Waits until the store is synced.
    pub async fn wait_synced(&self) {
        let notified = self.inner.ready.notified();
        if self.is_synced() {
            return;
        }
        notified.await;
    }

    /// Number of ServiceAccounts held.
    pub fn len(&self) -> usize {
        let live = self.inner.live.read().unwrap_or_else(|p| p.into_inner());
        live.values().map(HashMap::len).sum()
    }

    /// True when the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every `(namespace, name, settings)`, sorted (for the debug dump).
    pub fn entries(&self) -> Vec<(String, String, Arc<ServiceAccountConfig>)> {
        let live = self.inner.live.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = live
            .iter()
            .flat_map(|(ns, names)| {
                names
                    .iter()
                    .map(|(name, c)| (ns.to_string(), name.to_string(), c.clone()))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }
}

/// Where a ServiceAccount came from.
#[derive(Debug, Clone)]
pub enum SaFound {
    /// The cache had it.
    Cached(Arc<ServiceAccountConfig>),
    /// The cache missed; the direct lookup found it.
    Fetched(Arc<ServiceAccountConfig>),
    /// Not found: cache miss and the lookup said NotFound, failed, timed out or is off.
    Missing(&'static str),
}

impl SaFound {
    /// The ServiceAccount's settings, if it was found.
    pub fn config(&self) -> Option<&ServiceAccountConfig> {
        match self {
            SaFound::Cached(c) | SaFound::Fetched(c) => Some(c),
            SaFound::Missing(_) => None,
        }
    }
}

/// The ServiceAccount cache as the handlers see it.
#[derive(Clone)]
pub struct SaCache {
    store: SaStore,
    fetcher: Option<Arc<dyn SaFetcher>>,
    grace: Duration,
    lookups: Arc<Semaphore>,
}

impl SaCache {
    /// A cache over `store`. `grace` bounds a direct lookup on a miss (capped at
    /// 1 s; zero turns lookups off).
    pub fn new(store: SaStore, fetcher: Option<Arc<dyn SaFetcher>>, grace: Duration) -> Self {
        Self {
            store,
            fetcher,
            grace: grace.min(MAX_GRACE),
            // the reference's lookup queue allows bursts of 20
            lookups: Arc::new(Semaphore::new(20)),
        }
    }

    /// The store (what the watch feeds).
    pub fn store(&self) -> &SaStore {
        &self.store
    }

    /// True once the store has completed its first list.
    pub fn is_synced(&self) -> bool {
        self.store.is_synced()
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

    /// Finds a ServiceAccount: the cache, else a direct lookup bounded by the grace
    /// period. A miss the lookup does not resolve increments
    /// `pod_identity_webhook_missing_sa_count` (the reference counts a miss that waiting
    /// for the cache did not resolve, or every miss when it does not wait).
    pub async fn get(&self, namespace: &str, name: &str, metrics: &Metrics) -> SaFound {
        if let Some(c) = self.store.get(namespace, name) {
            return SaFound::Cached(c);
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
            Ok(Some(Ok(Some(meta)))) => ("found", SaFound::Fetched(self.store.config_of(&meta))),
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

/// A ServiceAccount as the watch decodes it: only the metadata the cache reads (name,
/// namespace, resourceVersion, annotations). The parser skips every other field of the
/// object (managedFields, labels, secrets, …) without building it.
#[derive(Clone, Debug, Default)]
pub struct SaMeta {
    metadata: ObjectMeta,
}

impl k8s_openapi::Resource for SaMeta {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "ServiceAccount";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "serviceaccounts";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for SaMeta {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<'de> serde::Deserialize<'de> for SaMeta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Lean {
            #[serde(default)]
            metadata: LeanMeta,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct LeanMeta {
            name: Option<String>,
            namespace: Option<String>,
            resource_version: Option<String>,
            annotations: Option<BTreeMap<String, String>>,
        }
        let l = Lean::deserialize(d)?;
        Ok(SaMeta {
            metadata: ObjectMeta {
                name: l.metadata.name,
                namespace: l.metadata.namespace,
                resource_version: l.metadata.resource_version,
                annotations: l.metadata.annotations,
                ..ObjectMeta::default()
            },
        })
    }
}

/// What the watch delivers, reduced to the metadata the store reads.
pub trait IntoMeta {
    /// The object's metadata.
    fn into_meta(self) -> ObjectMeta;
}

impl IntoMeta for SaMeta {
    fn into_meta(self) -> ObjectMeta {
        self.metadata
    }
}

impl IntoMeta for PartialObjectMeta<ServiceAccount> {
    fn into_meta(self) -> ObjectMeta {
        self.metadata
    }
}

/// How long a streaming initial list may go without an event before it is taken for an
/// API server that ignores `sendInitialEvents` (before 1.27: it never marks the list's
/// end) and the list is read in pages instead.
pub const STREAM_STALL: Duration = Duration::from_secs(10);

struct Stall;

async fn next_or_stall<S: Stream + Unpin>(
    stream: &mut S,
    bounded: bool,
) -> Result<Option<S::Item>, Stall> {
    if bounded {
        tokio::time::timeout(STREAM_STALL, stream.next())
            .await
            .map_err(|_| Stall)
    } else {
        Ok(stream.next().await)
    }
}

/// Why [`drive`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// `restart` fired.
    Restart,
    /// The stream ended.
    Ended,
    /// An error before the first complete list, with `fail_before_sync` set.
    FailedBeforeSync,
}

/// Feeds a watcher event stream into the store until the stream ends or `restart` fires;
/// with `fail_before_sync`, also at the first error before a list completed (a streaming
/// list the API server refuses falls back to pages).
pub async fn drive<S, K>(
    stream: S,
    store: &SaStore,
    restart: &Notify,
    metrics: &Metrics,
    fail_before_sync: bool,
) -> Stopped
where
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
    K: IntoMeta,
{
    futures::pin_mut!(stream);
    let mut listed = 0usize;
    let mut list_started = Instant::now();
    let mut synced_once = false;
    loop {
        tokio::select! {
            _ = restart.notified() => return Stopped::Restart,
            ev = next_or_stall(&mut stream, fail_before_sync && !synced_once) => match ev {
                Err(Stall) => {
                    tracing::warn!(
                        seconds = STREAM_STALL.as_secs(),
                        "ServiceAccount streaming list stalled before its end; listing in pages instead"
                    );
                    return Stopped::FailedBeforeSync;
                }
                Ok(ev) => match ev {
                None => return Stopped::Ended,
                Some(Ok(ev)) => {
                    let ev = match ev {
                        Event::Init => {
                            listed = 0;
                            list_started = Instant::now();
                            Event::Init
                        }
                        Event::InitApply(o) => {
                            listed += 1;
                            Event::InitApply(o.into_meta())
                        }
                        Event::InitDone => Event::InitDone,
                        Event::Apply(o) => Event::Apply(o.into_meta()),
                        Event::Delete(o) => Event::Delete(o.into_meta()),
                    };
                    store.apply(&ev);
                    if matches!(ev, Event::Apply(_) | Event::InitApply(_)) {
                        metrics.used.set(1);
                    }
                    if matches!(ev, Event::InitDone) {
                        synced_once = true;
                        tracing::info!(
                            service_accounts = listed,
                            seconds = list_started.elapsed().as_secs_f64(),
                            "ServiceAccounts listed"
                        );
                    }
                    if matches!(ev, Event::InitDone | Event::Apply(_) | Event::Delete(_)) {
                        metrics.sa_cache_size.set(store.len() as i64);
                    }
                }
                Some(Err(e)) => {
                    if fail_before_sync && !synced_once {
                        tracing::warn!(error = %e, "ServiceAccount streaming list failed; listing in pages instead");
                        return Stopped::FailedBeforeSync;
                    }
                    tracing::warn!(error = %e, "ServiceAccount watch error; retrying with backoff")
                }
                },
            }
        }
    }
}

/// Objects per page of the initial list when the API server does not stream it: fewer
/// round trips than client-go's 500 for large clusters, while one page stays a few MiB.
pub const LIST_PAGE_SIZE: u32 = 5000;

/// Runs the cluster-wide ServiceAccount watch forever. The initial list is a streaming
/// list (a watch with `sendInitialEvents`, as client-go's informers do since 1.35): the
/// ServiceAccounts arrive one event at a time and each is reduced to its settings as it
/// is parsed ([`SaMeta`]), so no page of objects is ever held, and the API server sends
/// them from its watch cache while they are parsed. An API server that refuses it
/// (`WatchList` off, before 1.32 by default) is listed in pages of [`LIST_PAGE_SIZE`]
/// instead. `restart` (the debug `cache/clear` handler) drops the watch and re-lists.
pub async fn run_sa_reflector(
    client: Client,
    store: SaStore,
    restart: Arc<Notify>,
    metrics: Metrics,
) {
    let api: Api<SaMeta> = Api::all(client);
    let mut streaming = true;
    loop {
        let config = watcher::Config::default().any_semantic();
        let config = if streaming {
            config.streaming_lists()
        } else {
            config.page_size(LIST_PAGE_SIZE)
        };
        let stream = watcher(api.clone(), config).default_backoff();
        match drive(stream, &store, &restart, &metrics, streaming).await {
            Stopped::Restart => tracing::info!("ServiceAccount cache cleared; re-listing"),
            Stopped::FailedBeforeSync => streaming = false,
            Stopped::Ended => {
                tracing::warn!("ServiceAccount watch ended; restarting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
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

/// How long the container-credentials file must stay missing or empty before that counts
/// as "no identities": a writer that truncates the file and then writes it leaves it
/// empty for a moment, and a pod admitted in that moment must not lose its mutation.
pub const CC_EMPTY_SETTLE: Duration = Duration::from_secs(2);

/// The container-credentials file, reloaded atomically: the identities in force are
/// replaced only by a complete new file that parses. Content that does not parse (a file
/// caught half-written) keeps the previous identities; a missing or empty file clears
/// them only once it has stayed so for 2 s (at start, at once).
pub struct CcFile {
    path: PathBuf,
    last: Option<Vec<u8>>,
    empty_since: Option<Instant>,
    settle: Duration,
}

impl CcFile {
    /// Watches `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            last: None,
            empty_since: None,
            settle: CC_EMPTY_SETTLE,
        }
    }

    /// Replaces the 2 s an emptied file must stay empty before it counts.
    pub fn with_empty_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Re-reads the file; applies it if it changed. Returns the outcome (`ok`, `empty`,
    /// `error`: kept the previous identities, `pending`: empty, not yet for long enough),
    /// `None` when unchanged.
    pub fn check(&mut self, target: &Shared<ContainerCredentialsConfig>) -> Option<&'static str> {
        self.check_at(target, Instant::now())
    }

    /// [`CcFile::check`] at `now`.
    pub fn check_at(
        &mut self,
        target: &Shared<ContainerCredentialsConfig>,
        now: Instant,
    ) -> Option<&'static str> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the container credentials config");
                return Some("error");
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return self.empty(target, now);
        }
        self.empty_since = None;
        if self.last.as_deref() == Some(&bytes[..]) {
            return None;
        }
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| ContainerCredentialsConfig::parse(text).map_err(|e| e.to_string()));
        self.last = Some(bytes);
        match parsed {
            Ok(c) => {
                tracing::info!(path = %self.path.display(), identities = c.len(), "container credentials config loaded");
                target.set(c);
                Some("ok")
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "invalid or incomplete container credentials config; keeping the previous identities");
                Some("error")
            }
        }
    }

    fn empty(
        &mut self,
        target: &Shared<ContainerCredentialsConfig>,
        now: Instant,
    ) -> Option<&'static str> {
        if self.last.as_ref().is_some_and(Vec::is_empty) {
            return None;
        }
        let since = *self.empty_since.get_or_insert(now);
        if self.last.is_some() && now.duration_since(since) < self.settle {
            return Some("pending");
        }
        self.empty_since = None;
        self.last = Some(Vec::new());
        target.set(ContainerCredentialsConfig::default());
        tracing::info!(path = %self.path.display(), "container credentials config is missing or empty; no identities");
        Some("empty")
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

    fn meta(ns: &str, name: &str, ann: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            annotations: Some(
                ann.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn store_keeps_the_resolved_settings() {
        let store = SaStore::new(Arc::new(Settings::default()));
        assert!(!store.is_synced());
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(meta(
            "ns",
            "app",
            &[
                ("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/x"),
                ("kubectl.kubernetes.io/last-applied-configuration", "{...}"),
                ("eks.amazonaws.comX/role-arn", "nope"),
            ],
        )));
        store.apply(&Event::InitApply(meta("ns", "plain", &[("other/x", "y")])));
        store.apply(&Event::InitApply(meta("other", "plain", &[])));
        // Nothing is visible before the list completes.
        assert!(store.get("ns", "app").is_none());
        store.apply(&Event::InitDone);
        assert!(store.is_synced());
        assert_eq!(store.len(), 3);
        let app = store.get("ns", "app").unwrap();
        assert_eq!(app.role_arn.as_deref(), Some("arn:aws:iam::1:role/x"));
        // Unannotated ServiceAccounts share one value.
        let a = store.get("ns", "plain").unwrap();
        let b = store.get("other", "plain").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.role_arn, None);
        // Updates and deletes apply to the live store.
        store.apply(&Event::Apply(meta(
            "ns",
            "plain",
            &[("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/y")],
        )));
        assert_eq!(
            store.get("ns", "plain").unwrap().role_arn.as_deref(),
            Some("arn:aws:iam::1:role/y")
        );
        store.apply(&Event::Delete(meta("other", "plain", &[])));
        assert!(store.get("other", "plain").is_none());
        assert_eq!(store.len(), 2);
        // A re-list replaces everything at once.
        store.apply(&Event::Init);
        store.apply(&Event::InitApply(meta("new", "only", &[])));
        assert_eq!(store.len(), 2);
        store.apply(&Event::InitDone);
        assert_eq!(store.len(), 1);
        assert!(store.get("ns", "app").is_none());
        let entries = store.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].0.as_str(), entries[0].1.as_str()),
            ("new", "only")
        );
        // Objects without a name are ignored.
        store.apply(&Event::Apply(ObjectMeta::default()));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn sa_meta_keeps_only_what_the_cache_reads() {
        let sa: SaMeta = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"ServiceAccount","secrets":[{"name":"t"}],
                "metadata":{"name":"app","namespace":"ns","resourceVersion":"42","uid":"u",
                "labels":{"a":"b"},"managedFields":[{"manager":"m","fieldsV1":{"f:x":{}}}],
                "annotations":{"eks.amazonaws.com/role-arn":"arn:aws:iam::1:role/x"}}}"#,
        )
        .unwrap();
        let m = sa.into_meta();
        assert_eq!(m.name.as_deref(), Some("app"));
        assert_eq!(m.namespace.as_deref(), Some("ns"));
        assert_eq!(m.resource_version.as_deref(), Some("42"));
        assert_eq!(m.annotations.as_ref().map(BTreeMap::len), Some(1));
        assert!(m.labels.is_none() && m.managed_fields.is_none() && m.uid.is_none());
        // No metadata at all is an object without a name (the store ignores it).
        let empty: SaMeta = serde_json::from_str("{}").unwrap();
        assert!(empty.into_meta().name.is_none());
        // A wrongly typed annotation value is refused, not guessed.
        assert!(serde_json::from_str::<SaMeta>(r#"{"metadata":{"annotations":{"a":1}}}"#).is_err());
    }

    #[test]
    fn cc_file_empty_or_partial_keeps_the_identities_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cc.json");
        let full = r#"{"identities":[{"namespace":"ns","serviceAccount":"app"}]}"#;
        std::fs::write(&path, full).unwrap();
        let target = Shared::<ContainerCredentialsConfig>::default();
        let mut f = CcFile::new(path.clone()).with_empty_settle(Duration::from_secs(2));
        let t0 = Instant::now();
        assert_eq!(f.check_at(&target, t0), Some("ok"));
        assert!(target.get().contains("ns", "app"));
        assert_eq!(f.check_at(&target, t0), None);
        // Truncated: still the old identities until the emptiness has lasted 2 s.
        std::fs::write(&path, "").unwrap();
        assert_eq!(f.check_at(&target, t0), Some("pending"));
        assert_eq!(
            f.check_at(&target, t0 + Duration::from_millis(1999)),
            Some("pending")
        );
        assert!(target.get().contains("ns", "app"));
        // Half written: kept.
        std::fs::write(&path, &full[..20]).unwrap();
        assert_eq!(
            f.check_at(&target, t0 + Duration::from_secs(3)),
            Some("error")
        );
        assert!(target.get().contains("ns", "app"));
        // Complete again: the pending emptiness is forgotten.
        std::fs::write(&path, full).unwrap();
        assert_eq!(f.check_at(&target, t0 + Duration::from_secs(3)), Some("ok"));
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(
            f.check_at(&target, t0 + Duration::from_secs(4)),
            Some("pending")
        );
        assert!(target.get().contains("ns", "app"));
        // Removed and staying removed: cleared after the settle time, once.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            f.check_at(&target, t0 + Duration::from_secs(5)),
            Some("pending")
        );
        assert_eq!(
            f.check_at(&target, t0 + Duration::from_secs(6)),
            Some("empty")
        );
        assert!(target.get().is_empty());
        assert_eq!(f.check_at(&target, t0 + Duration::from_secs(9)), None);
        // A file missing at start is empty at once.
        let mut fresh = CcFile::new(dir.path().join("absent.json"));
        let other = Shared::new(ContainerCredentialsConfig::parse(full).unwrap());
        assert_eq!(fresh.check_at(&other, t0), Some("empty"));
        assert!(other.get().is_empty());
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
