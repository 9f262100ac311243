//! Headers every response carries, pages above all: a strict Content-Security-Policy (scripts,
//! styles, images, media and connections from this origin only — no inline script or style, no
//! `eval`, no frames around the pages, no plugins), `X-Content-Type-Options: nosniff` (a document
//! photo is never run as a script), and `Referrer-Policy: no-referrer` (a URL with a kiosk's
//! set-up parameters never leaves in a `Referer`).

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The pages' policy. `blob:` for images and media: document photos, thumbnails and recordings
/// are fetched with the caller's token and shown from blob URLs; `data:` for images drawn on a
/// canvas.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
