//! Wrappers around axum's extractors whose rejections use our error envelope.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// `Json` whose rejections (bad syntax, wrong types, too large, wrong
/// content type) become `ApiError`s. Numbers are read as JSON Schema reads
/// them: `2.0` is the integer 2, so a client that writes integers as floats
/// gets what the OpenAPI document promises.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(mut value) = axum::Json::<Value>::from_request(request, state).await?;
        integral_floats_to_integers(&mut value);
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::Validation(format!("Failed to deserialize the JSON body into the target type: {e}")))
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Rewrites numbers like `3.0` (in the integer range) as integers, everywhere in `value`.
fn integral_floats_to_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Within ±2^53 every integer is exact in f64, so nothing is rounded.
            if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// `Path` with our rejection.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` with our rejection.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_fractions_stay() {
        let mut value = json!({ "a": 2.0, "b": [1.5, -3.0], "c": { "d": 1e300 }, "e": "2.0" });
        integral_floats_to_integers(&mut value);
        assert_eq!(value, json!({ "a": 2, "b": [1.5, -3], "c": { "d": 1e300 }, "e": "2.0" }));
        assert!(value["a"].is_i64());
    }
}
