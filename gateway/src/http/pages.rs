//! Public endpoints: the API index, `/healthz` (which asks the driver, not just the listener),
//! the catalog, and the browser pages with their assets, embedded in the binary (no CDN).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use protocol::rest::Catalog;
use protocol::ErrorCode;
use tokio::sync::oneshot;

use super::ApiError;
use crate::state::AppState;
use host::commands::Command;

/// How long `/healthz` waits for the driver to answer before calling it unhealthy.
const DRIVER_PROBE: Duration = Duration::from_secs(2);

pub async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}

/// `GET /api/openapi.json`: the OpenAPI 3 description of the REST endpoints
/// (`gateway/api/openapi.json`, checked against the router by a test).
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../../api/openapi.json")).into_response()
}

/// `GET /metrics`: Prometheus metrics (OpenMetrics text). Public like `/healthz`: counts and
/// durations by hall, service and route only.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &host::metrics::METRICS;
    m.connections.set(state.edge.conns.open() as i64);
    m.records_queued.set(state.records.health().queued() as i64);
    let body = m.render();
    ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response()
}

/// `200 {"status": "ok", …}` only while the driver (the task that owns the routing engine)
/// answers within 2 s; `503 {"status": "unavailable", "driver": "not_responding"}` otherwise.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let (reply, rx) = oneshot::channel();
    let alive = state.commands.try_send(Command::Probe { reply }).is_ok()
        && matches!(tokio::time::timeout(DRIVER_PROBE, rx).await, Ok(Ok(())));
    let connections = state.edge.conns.open();
    // Relay mode: rooms open on this node and what its relay forwarded since start (with relays
    // of their own: on the relays that are up, and which are).
    let media = state.relay.as_ref().map(|relay| {
        let (packets, bytes) = relay.forwarded();
        let mut media = serde_json::json!({"mode": "relay", "rooms": relay.rooms(), "packets_forwarded": packets, "bytes_forwarded": bytes});
        if let media_relay::Relay::Remote(pool) = relay {
            let relays: Vec<_> =
                pool.links().into_iter().map(|(address, up)| serde_json::json!({"address": address, "up": up})).collect();
            media["relays"] = serde_json::Value::Array(relays);
        }
        media
    });
    // The records writer: what waits for it, and what the database refused for good.
    let writer = state.records.health();
    host::metrics::METRICS.records_queued.set(writer.queued() as i64);
    let records = serde_json::json!({
        "queued": writer.queued(), "set_aside": writer.set_aside(), "last_set_aside": writer.last_set_aside(),
    });
    let mut reasons: Vec<&str> = Vec::new();
    if writer.set_aside() > 0 {
        reasons.push("records_set_aside");
    }
    if writer.is_full() {
        reasons.push("records_queue_full");
    }
    let status = match (alive, reasons.is_empty()) {
        (false, _) => "unavailable",
        (true, true) => "ok",
        (true, false) => "degraded",
    };
    if let Some(role) = &state.cluster {
        // Every node is a gateway: a standby takes clients like the router does, so it is healthy
        // while its engine host answers (its replica, or the router's driver).
        let body = serde_json::json!({
            "status": status, "protocol_version": protocol::PROTOCOL_VERSION,
            "driver": if alive { "ok" } else { "not_responding" }, "connections": connections,
            "node": role.node, "role": if role.is_router() { "router" } else { "standby" }, "epoch": role.epoch(),
            "gateway": state.edge.gateway, "media": media, "records": records, "reasons": reasons,
        });
        let status = if alive { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        return (status, Json(body)).into_response();
    }
    if alive {
        let body = serde_json::json!({
            "status": status, "protocol_version": protocol::PROTOCOL_VERSION, "driver": "ok", "connections": connections,
            "media": media, "records": records, "reasons": reasons,
        });
        Json(body).into_response()
    } else {
        let body = serde_json::json!({
            "status": "unavailable", "protocol_version": protocol::PROTOCOL_VERSION, "driver": "not_responding",
            "connections": connections,
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// `GET /api/catalog?booth=`: with `booth`, each service item also says how many clerks who could
/// serve it for that booth are signed in now (`clerks_signed_in`), so a kiosk or `booth-client
/// --wait-for-clerk` can wait without taking a ticket that would close `no_clerk`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    booth: Option<String>,
}

pub async fn catalog(
    State(state): State<AppState>,
    super::ApiQuery(q): super::ApiQuery<CatalogQuery>,
) -> Result<Json<Catalog>, ApiError> {
    let mut catalog = state.catalog.clone();
    if let Some(id) = q.booth {
        let booth = state.directory.booth_idx(&id).ok_or(ErrorCode::NotFound)?;
        let (reply, rx) = oneshot::channel();
        state.commands.send(Command::StaffedFor { booth, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
        let counts = rx.await.map_err(|_| ErrorCode::ShuttingDown)?;
        for (service, n) in catalog.services.iter_mut().zip(counts) {
            service.clerks_signed_in = Some(n);
        }
    }
    Ok(Json(catalog))
}

pub async fn booth() -> Html<&'static str> {
    Html(include_str!("../../web/booth.html"))
}

pub async fn clerk() -> Html<&'static str> {
    Html(include_str!("../../web/clerk.html"))
}

pub async fn supervisor() -> Html<&'static str> {
    Html(include_str!("../../web/supervisor.html"))
}

/// `common.js` with this server's protocol version in place of the one written in the file.
static COMMON_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("../../web/common.js").replace("/*PROTOCOL_VERSION*/1", &protocol::PROTOCOL_VERSION.to_string())
});

pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match name.as_str() {
        "common.js" => (COMMON_JS.as_str(), "text/javascript; charset=utf-8"),
        "supervisor.js" => (include_str!("../../web/supervisor.js"), "text/javascript; charset=utf-8"),
        "booth.js" => (include_str!("../../web/booth.js"), "text/javascript; charset=utf-8"),
        "clerk.js" => (include_str!("../../web/clerk.js"), "text/javascript; charset=utf-8"),
        "style.css" => (include_str!("../../web/style.css"), "text/css; charset=utf-8"),
        _ => return Err(ErrorCode::NotFound.into()),
    };
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}
