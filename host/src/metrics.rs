//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format. Labels are bounded
//! by the configuration: a hall (region id), a service code, a clerk state, an HTTP route template
//! — never a booth, clerk, ticket or citizen.
//!
//! One set per process (the server is one process; tests that start several servers in one
//! process see their sums). Counters count from the process's start: a replay of the routing log
//! at start does not count again what it replays.

use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A metric's labels: names from this module, values from the configuration.
pub type Labels = Vec<(&'static str, String)>;

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    /// Waiting tickets per home hall and service.
    pub queue_depth: Family<Labels, Gauge>,
    /// The longest current wait per home hall and service, in seconds.
    pub longest_wait: Family<Labels, Gauge<f64, AtomicU64>>,
    /// Signed-in clerks by state.
    pub clerks: Family<Labels, Gauge>,
    pub offers: Family<Labels, Counter>,
    pub offer_timeouts: Family<Labels, Counter>,
    /// First answers, by answering hall and service.
    pub answers: Family<Labels, Counter>,
    /// Tickets closed cancelled or booth_lost before any answer, by home hall and service.
    pub abandons: Family<Labels, Counter>,
    pub connections: Gauge,
    /// HTTP request durations by route template.
    pub http: Histograms,
    /// How long the routing driver took over one message (or other input), by kind.
    pub messages: Histograms,
    /// Document photos: upload received → processed (decode, checks, watermark, thumbnail).
    pub documents: Histogram,
    /// Records store writes (committed), by kind of record.
    pub store_writes: Histograms,
    /// Records the database refused for good and the writer set aside, by kind.
    pub records_set_aside: Family<Labels, Counter>,
    /// Records waiting for the records writer.
    pub records_queued: Gauge,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("xiaowu");
        let m = Self {
            registry: Registry::default(),
            queue_depth: Family::default(),
            longest_wait: Family::default(),
            clerks: Family::default(),
            offers: Family::default(),
            offer_timeouts: Family::default(),
            answers: Family::default(),
            abandons: Family::default(),
            connections: Gauge::default(),
            http: Family::new_with_constructor(latency),
            messages: Family::new_with_constructor(latency),
            documents: latency(),
            store_writes: Family::new_with_constructor(latency),
            records_set_aside: Family::default(),
            records_queued: Gauge::default(),
        };
        registry.register("queue_depth", "Waiting tickets, by home hall and service", m.queue_depth.clone());
        registry.register(
            "longest_wait_seconds",
            "The longest current wait, by home hall and service",
            m.longest_wait.clone(),
        );
        registry.register("clerks", "Signed-in clerks, by state", m.clerks.clone());
        registry.register("offers", "Tickets offered to clerks, by service", m.offers.clone());
        registry.register("offer_timeouts", "Offers not answered in time, by service", m.offer_timeouts.clone());
        registry.register(
            "answers",
            "Tickets answered (first answer), by answering hall and service",
            m.answers.clone(),
        );
        registry.register(
            "abandons",
            "Tickets cancelled or lost before any answer, by home hall and service",
            m.abandons.clone(),
        );
        registry.register("websocket_connections", "Open WebSocket connections", m.connections.clone());
        registry.register("http_request_duration_seconds", "HTTP request durations, by route", m.http.clone());
        registry.register(
            "message_duration_seconds",
            "Routing driver time per client message or input, by kind",
            m.messages.clone(),
        );
        registry.register(
            "document_processing_seconds",
            "Document photo pipeline time (decode, checks, watermark, thumbnail)",
            m.documents.clone(),
        );
        registry.register("store_write_duration_seconds", "Records store commits, by kind", m.store_writes.clone());
        registry.register(
            "records_set_aside",
            "Records the database refused for good, set aside by the records writer, by kind",
            m.records_set_aside.clone(),
        );
        registry.register("records_queued", "Records waiting for the records writer", m.records_queued.clone());
        Self { registry, ..m }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}

/// Creates, at 0, every series the configuration implies — queue depth, longest wait, answers and
/// abandons for each hall × service item its clerks handle, offers and offer timeouts per item,
/// clerks per state, message durations per message kind — so that rates and absence alerts work
/// from the start, before anything has happened.
pub fn create_configured_series(dir: &routing::Directory) {
    let m = &*METRICS;
    let mut pairs = std::collections::BTreeSet::new();
    for clerk in &dir.clerks {
        for &service in &clerk.skills {
            pairs.insert((dir.region(clerk.hall).id.as_str(), dir.service(service).code.as_str()));
        }
    }
    for (hall, service) in pairs {
        let key = labels(&[("hall", hall), ("service", service)]);
        let _ = m.queue_depth.get_or_create(&key);
        let _ = m.longest_wait.get_or_create(&key);
        let _ = m.answers.get_or_create(&key);
        let _ = m.abandons.get_or_create(&key);
    }
    for service in &dir.services {
        let key = labels(&[("service", &service.code)]);
        let _ = m.offers.get_or_create(&key);
        let _ = m.offer_timeouts.get_or_create(&key);
    }
    for state in ["available", "offered", "in_call", "wrap_up", "away"] {
        let _ = m.clerks.get_or_create(&labels(&[("state", state)]));
    }
    for kind in protocol::ClientMessage::KINDS {
        let _ = m.messages.get_or_create(&labels(&[("kind", kind)]));
    }
}

/// `[(name, value)]` labels.
pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

pub fn observe(h: &Histogram, took: Duration) {
    h.observe(took.as_secs_f64());
}
