//! Prometheus metrics with the reference webhook's names, plus process metrics.
//!
//! The reference serves Go's text format 0.0.4, where a counter keeps its registered name
//! (`http_request_count`, not `http_request_count_total`). prometheus-client always adds
//! `_total` to counters, so the encoded text is post-processed for the reference's counter
//! names only; the server's own new counters keep the `_total` convention.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The `Content-Type` of `/metrics` (Prometheus text format 0.0.4, like the reference).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Labels of the HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub verb: String,
    /// Route (a fixed set: unknown paths are `other`, to bound cardinality).
    pub path: String,
    /// Status code.
    pub code: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub verb: String,
    /// Route.
    pub path: String,
}

/// `method` label of the pod counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `sts_web_identity` or `container_credentials`.
    pub method: String,
}

/// `result` label of the server's own counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// Outcome.
    pub result: String,
}

/// All metrics of the webhook; cloning shares them (one reference count, as the
/// handlers clone their state per request).
#[derive(Clone)]
pub struct Metrics(Arc<MetricsInner>);

impl std::ops::Deref for Metrics {
    type Target = MetricsInner;
    fn deref(&self) -> &MetricsInner {
        &self.0
    }
}

/// The metrics behind [`Metrics`].
pub struct MetricsInner {
    registry: Registry,
    /// `http_request_count{verb,path,code}`.
    pub http_requests: Family<RequestLabels, Counter>,
    /// `http_request_latencies{verb,path}` in microseconds.
    pub http_latencies: Family<RouteLabels, Histogram>,
    /// `pod_identity_webhook_pod_count{method}`.
    pub pod_count: Family<MethodLabels, Counter>,
    /// `pod_identity_webhook_missing_sa_count`: ServiceAccount cache misses.
    pub missing_sa: Counter,
    /// `pod_identity_webhook_used`: 1 once any ServiceAccount was seen.
    pub used: Gauge,
    /// `irsa_webhook_sa_lookups_total{result}`: direct API lookups after a cache miss.
    pub sa_lookups: Family<ResultLabels, Counter>,
    /// `irsa_webhook_certificate_reloads_total{result}`.
    pub cert_reloads: Family<ResultLabels, Counter>,
    /// `irsa_webhook_ready`: 1 when `/readyz` is ok.
    pub ready: Gauge,
    /// `irsa_webhook_sa_cache_size`: ServiceAccounts in the cache.
    pub sa_cache_size: Gauge,
    /// `irsa_webhook_config_reloads_total{result}`: ConfigMap and container-credentials file.
    pub config_reloads: Family<ResultLabels, Counter>,
    /// `irsa_server_*`: the runtime's request counters (in flight, shed, timed out).
    pub server: irsa_server::ServerMetrics,
    /// `http_request_duration_microseconds{verb,path}`: the reference's summary (Go's
    /// client without objectives: `_sum` and `_count`). prometheus-client has no summary
    /// type, so it is encoded here.
    durations: Mutex<Durations>,
    /// The series every admission touches, resolved once (created on first use, so the
    /// text output is the same as through the families).
    hot: Hot,
}

#[derive(Default)]
struct Hot {
    mutate_ok: OnceLock<(Counter, Histogram)>,
    sts_web_identity: OnceLock<Counter>,
    container_credentials: OnceLock<Counter>,
}

/// (verb, path) → (sum of microseconds, count) of `http_request_duration_microseconds`.
type Durations = BTreeMap<(String, String), (f64, u64)>;

/// The reference's counter names, which are served without the `_total` suffix.
const LEGACY_COUNTERS: &[&str] = &[
    "http_request_count",
    "pod_identity_webhook_pod_count",
    "pod_identity_webhook_missing_sa_count",
];

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(125_000.0, 2.0, 7))
}

/// Registers `metric` as `name` with `help` and returns it (a handle on the same series).
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// The metrics of this server that the reference webhook does not have (`irsa_webhook_*`).
struct OwnMetrics {
    sa_lookups: Family<ResultLabels, Counter>,
    cert_reloads: Family<ResultLabels, Counter>,
    ready: Gauge,
    sa_cache_size: Gauge,
    config_reloads: Family<ResultLabels, Counter>,
}

impl OwnMetrics {
    fn register(r: &mut Registry) -> OwnMetrics {
        OwnMetrics {
            sa_lookups: registered(
                r,
                "irsa_webhook_sa_lookups",
                "Direct ServiceAccount API lookups after a cache miss, by result",
                Family::default(),
            ),
            cert_reloads: registered(
                r,
                "irsa_webhook_certificate_reloads",
                "Serving certificate reload attempts, by result",
                Family::default(),
            ),
            ready: registered(
                r,
                "irsa_webhook_ready",
                "1 when the webhook is ready to admit pods (ServiceAccount cache synced, not shutting down)",
                Gauge::default(),
            ),
            sa_cache_size: registered(
                r,
                "irsa_webhook_sa_cache_size",
                "ServiceAccounts held in the cache",
                Gauge::default(),
            ),
            config_reloads: registered(
                r,
                "irsa_webhook_config_reloads",
                "Reloads of the ConfigMap and container-credentials configuration, by result",
                Family::default(),
            ),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric (and the process collector) registered: the
    /// reference webhook's metrics first, then the server's own, as they are encoded.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let http_requests = registered(
            r,
            "http_request_count",
            "Counter of requests broken out for each verb, path, and response code",
            Family::default(),
        );
        let http_latencies = registered(
            r,
            "http_request_latencies",
            "Response latency distribution in microseconds for each verb and path",
            Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        );
        let pod_count = registered(
            r,
            "pod_identity_webhook_pod_count",
            "Counter of pods mutated, by the method of injected credentials",
            Family::default(),
        );
        let missing_sa = registered(
            r,
            "pod_identity_webhook_missing_sa_count",
            "Counter of ServiceAccount cache misses",
            Counter::default(),
        );
        let used = registered(
            r,
            "pod_identity_webhook_used",
            "Set to 1 once any ServiceAccount has been cached",
            Gauge::default(),
        );
        let own = OwnMetrics::register(r);
        registry.register_collector(Box::new(ProcessCollector));
        let server = irsa_server::ServerMetrics::default();
        server.register(&mut registry);
        Self(Arc::new(MetricsInner {
            registry,
            http_requests,
            http_latencies,
            pod_count,
            missing_sa,
            used,
            sa_lookups: own.sa_lookups,
            cert_reloads: own.cert_reloads,
            ready: own.ready,
            sa_cache_size: own.sa_cache_size,
            config_reloads: own.config_reloads,
            server,
            durations: Mutex::default(),
            hot: Hot::default(),
        }))
    }

    /// Counts one mutated pod in `pod_identity_webhook_pod_count{method}`.
    pub fn count_pod(&self, method: &str) {
        let family = &self.pod_count;
        let get = || {
            family
                .get_or_create(&MethodLabels {
                    method: method.to_string(),
                })
                .clone()
        };
        match method {
            "sts_web_identity" => self.hot.sts_web_identity.get_or_init(get).inc(),
            "container_credentials" => self.hot.container_credentials.get_or_init(get).inc(),
            _ => get().inc(),
        };
    }

    /// Encodes every metric in the Prometheus text format 0.0.4.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        let mut text = legacy_names(&out);
        self.encode_durations(&mut text);
        text
    }

    fn encode_durations(&self, out: &mut String) {
        use std::fmt::Write as _;
        let durations = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        if durations.is_empty() {
            return;
        }
        out.push_str("# HELP http_request_duration_microseconds Response latency summary in microseconds for each verb and path.\n");
        out.push_str("# TYPE http_request_duration_microseconds summary\n");
        for ((verb, path), (sum, count)) in durations.iter() {
            let labels = format!(
                "verb=\"{}\",path=\"{}\"",
                escape_label(verb),
                escape_label(path)
            );
            let _ = writeln!(
                out,
                "http_request_duration_microseconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "http_request_duration_microseconds_count{{{labels}}} {count}"
            );
        }
    }

    /// Counts one HTTP request.
    pub fn observe_request(&self, verb: &str, path: &str, code: u16, micros: f64) {
        if (verb, path, code) == ("POST", "/mutate", 200) {
            let (count, latency) = self.hot.mutate_ok.get_or_init(|| {
                (
                    self.request_counter(verb, path, code),
                    self.latency_histogram(verb, path),
                )
            });
            count.inc();
            latency.observe(micros);
        } else {
            self.request_counter(verb, path, code).inc();
            self.latency_histogram(verb, path).observe(micros);
        }
        let mut durations = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        match durations
            .iter_mut()
            .find(|((v, p), _)| v == verb && p == path)
        {
            Some((_, entry)) => {
                entry.0 += micros;
                entry.1 += 1;
            }
            None => {
                durations.insert((verb.to_string(), path.to_string()), (micros, 1));
            }
        }
    }

    fn request_counter(&self, verb: &str, path: &str, code: u16) -> Counter {
        self.http_requests
            .get_or_create(&RequestLabels {
                verb: verb.to_string(),
                path: path.to_string(),
                code: code.to_string(),
            })
            .clone()
    }

    fn latency_histogram(&self, verb: &str, path: &str) -> Histogram {
        self.http_latencies
            .get_or_create(&RouteLabels {
                verb: verb.to_string(),
                path: path.to_string(),
            })
            .clone()
    }

    /// Increments a `{result}` family.
    pub fn inc_result(family: &Family<ResultLabels, Counter>, result: &str) {
        family
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }
}

/// A label value in the text format: `\\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Strips the `_total` suffix that prometheus-client adds from the reference's counters.
fn legacy_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut l = line.to_string();
        for name in LEGACY_COUNTERS {
            let with_total = format!("{name}_total");
            // the name is followed by `{`, ` ` or the end of the line in every position
            for sep in ["{", " "] {
                let from = format!("{with_total}{sep}");
                if l.contains(&from) {
                    l = l.replace(&from, &format!("{name}{sep}"));
                }
            }
            if l.ends_with(&with_total) {
                let cut = l.len() - "_total".len();
                l.truncate(cut);
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Linux process metrics with the names of Go's process collector.
#[derive(Debug)]
struct ProcessCollector;

#[derive(Debug, Default)]
struct ProcStat {
    cpu_seconds: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    max_fds: f64,
}

/// Reads `/proc/self/*`. Missing files (not Linux) give zeros.
fn read_proc() -> ProcStat {
    let mut s = ProcStat::default();
    // clock ticks per second and page size are 100 and 4096 on every Linux platform we ship
    const TICKS: f64 = 100.0;
    const PAGE: f64 = 4096.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // fields after the `(comm)`, which may contain spaces
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // rest[0] is field 3 (state); utime=14, stime=15, starttime=22, vsize=23, rss=24
            let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
            s.cpu_seconds = (num(14).unwrap_or(0.0) + num(15).unwrap_or(0.0)) / TICKS;
            s.virtual_bytes = num(23).unwrap_or(0.0);
            s.resident_bytes = num(24).unwrap_or(0.0) * PAGE;
            if let Some(start) = num(22) {
                let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("btime "))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                });
                s.start_time_seconds = boot.unwrap_or(0.0) + start / TICKS;
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        s.open_fds = rd.count() as f64;
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        s.max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    s
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = read_proc();
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, f64); 5] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                s.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                s.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                s.max_fds,
            ),
        ];
        for (name, help, v) in gauges {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_names_and_process_metrics() {
        let m = Metrics::new();
        m.observe_request("POST", "/mutate", 200, 1500.0);
        m.pod_count
            .get_or_create(&MethodLabels {
                method: "sts_web_identity".into(),
            })
            .inc();
        m.missing_sa.inc();
        Metrics::inc_result(&m.sa_lookups, "found");
        let text = m.encode();
        assert!(
            text.contains("http_request_count{verb=\"POST\",path=\"/mutate\",code=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE http_request_count counter\n"),
            "{text}"
        );
        assert!(
            text.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("pod_identity_webhook_missing_sa_count 1\n"),
            "{text}"
        );
        assert!(!text.contains("pod_identity_webhook_missing_sa_count_total"));
        assert!(
            text.contains("irsa_webhook_sa_lookups_total{result=\"found\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "http_request_latencies_bucket{verb=\"POST\",path=\"/mutate\",le=\"125000\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE http_request_duration_microseconds summary\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "http_request_duration_microseconds_sum{verb=\"POST\",path=\"/mutate\"} 1500\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "http_request_duration_microseconds_count{verb=\"POST\",path=\"/mutate\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("irsa_server_requests_shed_total 0\n"),
            "{text}"
        );
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.contains("process_cpu_seconds_total "), "{text}");
        assert!(read_proc().resident_bytes > 0.0);
    }
}
