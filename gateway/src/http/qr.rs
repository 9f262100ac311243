//! `GET /api/qr?text=…`: a QR code of a short text as SVG, drawn by the server so the kiosk needs
//! no script for it (the receipt's case number). It only renders what it is given: no account,
//! and nothing looked up. Text longer than [`MAX_TEXT`] characters is refused.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::ErrorCode;
use serde::Deserialize;

use super::{ApiError, ApiQuery};

/// Characters at most: a case number, a ticket number, a short link.
pub const MAX_TEXT: usize = 64;

#[derive(Deserialize)]
pub struct QrQuery {
    text: String,
}

pub async fn qr(ApiQuery(q): ApiQuery<QrQuery>) -> Result<Response, ApiError> {
    if q.text.is_empty() || q.text.chars().count() > MAX_TEXT {
        return Err(ErrorCode::InvalidField.into());
    }
    let code = qrcode::QrCode::with_error_correction_level(q.text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| ApiError::from(ErrorCode::InvalidField))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg)
        .into_response())
}
