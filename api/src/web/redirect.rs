//! Redirects: `303 See Other` after a form succeeds (the browser then GETs
//! the page) and to the login page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A 303 to `location` (after a successful form: the browser then GETs it).
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/apps"))]).into_response(),
    }
}
