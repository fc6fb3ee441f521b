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
#[derive(Clone, Debug, Default)]
pub struct ServerMetrics {
    /// Requests being handled.
    pub in_flight: Gauge,
    /// Requests answered with the protocol's throttling error at once, over capacity.
    pub shed: Counter,
    /// Requests that hit the request deadline.
    pub timed_out: Counter,
    /// Responses by status class.
    pub responses: Family<StatusClass, Counter>,
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
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.responses.get_or_create(&StatusClass { class }).inc();
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
