//! `GET /metrics` scraped by a real Prometheus (Debian's `prometheus`, started on a free port with
//! a throwaway config and data folder): after a served call, Prometheus has the answer counted
//! under the hall and service, the clerks by state and the HTTP and message latency histograms;
//! no label names a booth, a clerk or a ticket.
//!
//! A test binary of its own: the metrics registry belongs to the process (one server per process
//! in production), so series that must be at 0 from the start need a process no other test's
//! server has counted in.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use xiaowu_tests::*;

struct Prometheus {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn prometheus_scraping(target: &str) -> Prometheus {
    let port = test_kit::ports::free_port();
    let dir = std::env::temp_dir().join(format!("xiaowu-prometheus-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: xiaowu\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Debian's prometheus is installed (scripts/test.sh installs it)");
    Prometheus { child, port, dir }
}

/// Prometheus's answer to an instant query: the series (labels and value).
fn query(p: &Prometheus, q: &str) -> Vec<(serde_json::Value, f64)> {
    let url = format!("http://127.0.0.1:{}/api/v1/query", p.port);
    let Ok(mut resp) = ureq::get(&url).query("query", q).call() else { return vec![] };
    let body: serde_json::Value =
        serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap_or_default()).unwrap_or_default();
    body["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| (s["metric"].clone(), s["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_calls_queues_and_latencies_with_bounded_labels() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    served_call(&server, "booth-gudao-1", "clerk-hekou-1").await;

    // The exposition itself: OpenMetrics text.
    let mut resp = ureq::get(&format!("{url}/metrics")).call().unwrap();
    let content_type = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(text.contains("# TYPE xiaowu_answers counter"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
    for forbidden in ["booth-gudao", "clerk-hekou", "ticket=", "booth=", "clerk=", "call="] {
        assert!(!text.contains(forbidden), "no label may name `{forbidden}`:\n{text}");
    }

    let prometheus = prometheus_scraping(&server.addr.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    let answers = loop {
        let r = query(&prometheus, "xiaowu_answers_total");
        if !r.is_empty() {
            break r;
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped the server's /metrics");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Every hall × service series is there from the start; the call counted in its own.
    let (_, value) = answers
        .iter()
        .find(|(l, _)| l["service"] == "teacher-cert" && l["hall"] == "hekou")
        .expect("the teacher-cert answer in hekou");
    assert!(*value >= 1.0, "{value}");
    assert_eq!(query(&prometheus, "up{job=\"xiaowu\"}")[0].1, 1.0);
    assert!(!query(&prometheus, "xiaowu_clerks{state=\"available\"}").is_empty(), "clerks by state");
    assert!(!query(&prometheus, "xiaowu_queue_depth").is_empty(), "queue depth by hall and service");
    let http = query(&prometheus, "xiaowu_http_request_duration_seconds_count{route=\"/api/login\"}");
    assert!(http.first().is_some_and(|(_, v)| *v >= 2.0), "logins timed: {http:?}");
    let messages = query(&prometheus, "xiaowu_message_duration_seconds_count{kind=\"accept_offer\"}");
    assert!(messages.first().is_some_and(|(_, v)| *v >= 1.0), "driver time per message: {messages:?}");
    assert!(!query(&prometheus, "xiaowu_store_write_duration_seconds_count{kind=\"case\"}").is_empty());
    server.shutdown().await;
}

/// Before anything has happened, every series the configuration implies is there at 0, so a
/// `rate()` or an `absent()` alert works from the first scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_configured_series_exists_at_zero_from_the_start() {
    let server = start(settings(|_| {})).await;
    let text =
        ureq::get(&format!("{}/metrics", base_url(&server))).call().unwrap().body_mut().read_to_string().unwrap();
    for series in [
        r#"xiaowu_queue_depth{hall="hekou",service="teacher-cert"} "#,
        r#"xiaowu_longest_wait_seconds{hall="hekou",service="teacher-cert"} "#,
        r#"xiaowu_abandons_total{hall="hekou",service="teacher-cert"} 0"#,
        r#"xiaowu_offer_timeouts_total{service="teacher-cert"} 0"#,
        r#"xiaowu_offers_total{service="teacher-cert"} "#,
        r#"xiaowu_answers_total{hall="dongying",service="teacher-cert"} "#,
        r#"xiaowu_message_duration_seconds_count{kind="rate_service"} "#,
        r#"xiaowu_clerks{state="wrap_up"} "#,
    ] {
        assert!(text.contains(series), "`{series}` is there from the start:\n{text}");
    }
    server.shutdown().await;
}
