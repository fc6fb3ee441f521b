//! What every server counts, under the `irsa_server_` prefix.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label of [`ServerMetrics::responses`]: the status class (`2xx` … `5xx`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct StatusClass {
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub class: &'static str,
}

/// Request counters of one server (cheap to clone; clones count together).
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    /// Requests being handled.
    pub in_flight: Gauge,
    /// Requests answered with the protocol's throttling error at once, over capacity.
    pub shed: Counter,
    /// Requests that hit the request deadline.
    pub timed_out: Counter,
    /// Responses by status class.
    pub responses: Family<StatusClass, Counter>,
    /// The counters of `responses` for 2xx, 3xx, 4xx and 5xx, looked up once.
    classes: [Counter; 4],
}

/// The status classes, in the order of `ServerMetrics::classes`.
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

impl Default for ServerMetrics {
    fn default() -> Self {
        let responses = Family::<StatusClass, Counter>::default();
        let classes = CLASSES.map(|class| responses.get_or_create(&StatusClass { class }).clone());
        ServerMetrics {
            in_flight: Gauge::default(),
            shed: Counter::default(),
            timed_out: Counter::default(),
            responses,
            classes,
        }
    }
}

impl ServerMetrics {
    /// Registers the counters as `irsa_server_*` in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("irsa_server");
        sub.register(
            "requests_in_flight",
            "Requests being handled",
            self.in_flight.clone(),
        );
        sub.register(
            "requests_shed",
            "Requests answered with the protocol's throttling error because the server was at its concurrency limit",
            self.shed.clone(),
        );
        sub.register(
            "requests_timed_out",
            "Requests that hit the request deadline",
            self.timed_out.clone(),
        );
        sub.register(
            "responses",
            "Responses by status class",
            self.responses.clone(),
        );
    }

    /// Counts one response of `status`.
    pub fn observe(&self, status: u16) {
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        if let Some(counter) = self.classes.get(class) {
            counter.inc();
        }
    }

    /// The counters in Prometheus' text format (for a server without its own registry).
    pub fn encode(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
