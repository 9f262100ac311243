//! REST endpoints: login, catalog, queue snapshot, health. Handlers only translate; errors go
//! out as one JSON shape (`ApiErrorBody`) that never exposes internals.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use protocol::rest::{ApiErrorBody, Catalog, LoginRequest, LoginResponse, QueueSnapshot};
use protocol::{ErrorCode, Role};
use tokio::sync::oneshot;

use crate::auth::{unix_now, Claims, SecretHash};
use crate::driver::{Command, Principal};
use crate::AppState;

/// An error answer: a status and a protocol error code with its standard texts.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub ErrorCode);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (zh, en) = self.1.messages();
        let body = ApiErrorBody { code: self.1, message_zh: zh.into(), message_en: en.into() };
        (self.0, Json(body)).into_response()
    }
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "protocol_version": protocol::PROTOCOL_VERSION }))
}

pub async fn catalog(State(state): State<AppState>) -> Json<Catalog> {
    Json(state.catalog.clone())
}

pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let Json(req) = body.map_err(|_| ApiError(StatusCode::BAD_REQUEST, ErrorCode::BadMessage))?;
    if req.secret.len() > 256 || req.id.len() > 128 {
        return Err(ApiError(StatusCode::BAD_REQUEST, ErrorCode::InvalidField));
    }
    let dir = &state.directory;
    let (hash, name) = match req.role {
        Role::Booth => dir.booth_idx(&req.id).map(|i| (&state.booth_secrets[i.0 as usize], dir.booth(i).name.clone())),
        Role::Clerk => dir.clerk_idx(&req.id).map(|i| (&state.clerk_secrets[i.0 as usize], dir.clerk(i).name.clone())),
        Role::Supervisor => {
            state.supervisor_idx(&req.id).map(|i| (&state.supervisor_secrets[i], state.supervisors[i].name.clone()))
        }
    }
    .map(|(h, n)| (Some(h.clone()), n))
    .unwrap_or((None, String::new()));
    let secret = req.secret.clone();
    // Hash even for unknown accounts so that timing does not reveal which ids exist.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => h.verify(&secret),
        None => {
            let dummy = SecretHash::parse(
                "pbkdf2-sha256$10000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .expect("the dummy hash is well formed");
            let _ = dummy.verify(&secret);
            false
        }
    })
    .await
    .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal))?;
    if !ok {
        tracing::info!(role = req.role.as_str(), "login refused");
        return Err(ApiError(StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials));
    }
    let exp = unix_now() + state.token_ttl.as_secs();
    let token = state.signer.issue(&Claims { role: req.role, id: req.id.clone(), exp });
    tracing::info!(role = req.role.as_str(), id = %req.id, "login");
    Ok(Json(LoginResponse { token, role: req.role, id: req.id, display_name: name, expires_at_unix: exp }))
}

pub async fn queues(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<QueueSnapshot>, ApiError> {
    let (who, _) = crate::http_docs::caller(&state, &headers)?;
    let Principal::Supervisor(sup) = who else {
        return Err(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden));
    };
    let (reply, rx) = oneshot::channel();
    let scope = state.supervisors[sup].scope;
    let unavailable = || ApiError(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown);
    state.commands.send(Command::Snapshot { scope, reply }).await.map_err(|_| unavailable())?;
    let rows = rx.await.map_err(|_| unavailable())?;
    Ok(Json(QueueSnapshot { rows }))
}

#[derive(Debug, serde::Deserialize)]
pub struct CasesQuery {
    #[serde(default = "default_case_limit")]
    limit: usize,
}

fn default_case_limit() -> usize {
    50
}

/// `GET /api/cases?limit=N` (at most 500): a clerk's own case records, or those of a supervisor's
/// scope (the clerk's hall or the booth's region within it), newest first, with ratings.
pub async fn cases(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CasesQuery>,
) -> Result<Json<protocol::rest::CaseList>, ApiError> {
    let (who, _) = crate::http_docs::caller(&state, &headers)?;
    let limit = q.limit.clamp(1, 500);
    let keep: Box<dyn Fn(&protocol::rest::CaseRecord) -> bool + Send> = match who {
        Principal::Clerk(c) => {
            let id = state.directory.clerk(c).id.clone();
            Box::new(move |r| r.clerk == id)
        }
        Principal::Supervisor(s) => {
            let (dir, scope) = (state.directory.clone(), state.supervisors[s].scope);
            let within = move |region: &str| dir.region_idx(region).is_some_and(|r| dir.is_within(r, scope));
            Box::new(move |r| within(&r.hall) || within(&r.booth_region))
        }
        Principal::Booth(_) => return Err(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden)),
    };
    let log = state.cases.clone();
    let cases = crate::http_docs::blocking_io("reading the case log", move || log.recent_cases(limit, keep)).await?;
    Ok(Json(protocol::rest::CaseList { cases }))
}

pub async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}

/// The browser pages and their assets, embedded in the binary (no CDN, works offline).
pub mod pages {
    use axum::extract::Path;
    use axum::http::{header, StatusCode};
    use axum::response::{Html, IntoResponse, Response};

    pub async fn booth() -> Html<&'static str> {
        Html(include_str!("../web/booth.html"))
    }
    pub async fn clerk() -> Html<&'static str> {
        Html(include_str!("../web/clerk.html"))
    }
    pub async fn supervisor() -> Html<&'static str> {
        Html(include_str!("../web/supervisor.html"))
    }
    pub async fn asset(Path(name): Path<String>) -> Response {
        let (body, kind) = match name.as_str() {
            "common.js" => (include_str!("../web/common.js"), "text/javascript; charset=utf-8"),
            "booth.js" => (include_str!("../web/booth.js"), "text/javascript; charset=utf-8"),
            "clerk.js" => (include_str!("../web/clerk.js"), "text/javascript; charset=utf-8"),
            "style.css" => (include_str!("../web/style.css"), "text/css; charset=utf-8"),
            _ => return StatusCode::NOT_FOUND.into_response(),
        };
        ([(header::CONTENT_TYPE, kind)], body).into_response()
    }
}
