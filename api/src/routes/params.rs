//! Parameters and bodies several JSON routes share.

use crate::error::{ApiError, ApiResult};

/// A binary body (gzip tarball) in the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Tarball(#[allow(dead_code)] Vec<u8>);

/// A client-supplied page size, or `default`; outside 1..=`max` is a 422.
pub fn page_limit(limit: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation(format!("limit must be between 1 and {max}"))),
    }
}

/// The `Content-Type` header of a tarball answer.
pub const GZIP: [(axum::http::HeaderName, &str); 1] = [(axum::http::header::CONTENT_TYPE, "application/gzip")];
