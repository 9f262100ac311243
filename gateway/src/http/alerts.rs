//! `GET /api/alerts?from=YYYY-MM-DD&to=YYYY-MM-DD`: the supervisors' alerts raised and cleared
//! in a date range, for a supervisor's scope, newest first — what stood when, after the live
//! `alerts` message has moved on. From the records store's `alert_events`.

use axum::extract::State;
use axum::Json;
use protocol::rest::{AlertEvent, AlertHistory};
use protocol::Alert;

use super::reports::{date_range, day_start_ms, regions_within};
use super::{store_call, ApiError, ApiQuery, Caller};
use crate::state::AppState;

/// The most events one answer carries.
pub const MAX_ALERT_EVENTS: u32 = 1000;

#[derive(Debug, serde::Deserialize)]
pub struct AlertParams {
    from: String,
    to: String,
}

pub async fn alert_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> Result<Json<AlertHistory>, ApiError> {
    let sup = caller.supervisor()?;
    let (from_day, to_day) = date_range(&p.from, &p.to)?;
    let regions = regions_within(&state.directory, state.supervisors[sup].scope);
    let records = state.records.clone();
    let (from_ms, to_ms) = (day_start_ms(from_day), day_start_ms(to_day + 1));
    let rows = store_call("reading the alert history", move || {
        if !records.sync_within(std::time::Duration::from_secs(5)) {
            return Err(store::StoreError::Unreachable("the records writer is waiting for the database".into()));
        }
        records.store().alert_events(from_ms, to_ms, &regions, MAX_ALERT_EVENTS + 1)
    })
    .await?;
    let truncated = rows.len() > MAX_ALERT_EVENTS as usize;
    let events = rows.into_iter().take(MAX_ALERT_EVENTS as usize).filter_map(event_of).collect();
    Ok(Json(AlertHistory { from: p.from, to: p.to, events, truncated }))
}

/// A stored row as the wire's event (a row of an unknown kind, from a newer version, is skipped).
fn event_of(r: store::AlertEventRow) -> Option<AlertEvent> {
    let kind = serde_json::from_value(serde_json::Value::String(r.kind)).ok()?;
    Some(AlertEvent {
        at_unix_ms: r.at_ms,
        event: r.event,
        alert: Alert {
            kind,
            region: protocol::RegionId::new(r.region),
            service: r.service.map(protocol::ServiceCode::new),
            clerk: r.clerk,
            booth: r.booth,
            since_unix: (r.since_ms / 1000).max(0) as u64,
            value: r.value_milli as f64 / 1000.0,
            message_zh: r.message_zh,
            message_en: r.message_en,
        },
    })
}
