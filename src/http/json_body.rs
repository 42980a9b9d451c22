//! Request bodies: read within `MAX_BODY_BYTES`, refused when JSON names a key twice in one
//! object (which JSON parsers resolve differently: the last wins here, the first elsewhere, so
//! two systems could read two different claims from one body), then parsed into their type.

use std::fmt;
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::{DeserializeOwned, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::MAX_BODY_BYTES;
use super::error::ApiError;

/// Marks serde errors raised for a duplicate key.
const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON body (`Content-Type: application/json`) parsed into `T`.
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
            .is_some_and(|m| m.type_() == actix_web::mime::APPLICATION && (m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON)));
        let refused = encoding_refused(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if let Some(error) = refused {
                return Err(error);
            }
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Unsupported media type",
                    "send the body as JSON with Content-Type: application/json",
                ));
            }
            let bytes = bytes.await.map_err(payload_error)?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

/// The body of an action (approve, pay, cancel, ...): JSON, or nothing at all (read as `{}`),
/// so it takes no content type check.
pub struct ActionBody(pub Value);

impl FromRequest for ActionBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<ActionBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let refused = encoding_refused(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if let Some(error) = refused {
                return Err(error);
            }
            let bytes = bytes.await.map_err(payload_error)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(ActionBody(Value::Object(Map::new())));
            }
            parse_json(&bytes).map(ActionBody)
        })
    }
}

/// The raw body of a route that takes more than JSON (a CSV import), read as every body is:
/// within `MAX_BODY_BYTES`, uncompressed.
pub async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    if let Some(error) = encoding_refused(req) {
        return Err(error);
    }
    let mut payload = payload.into_inner();
    web::Bytes::from_request(req, &mut payload).await.map_err(payload_error)
}

/// Bodies are taken as sent: a compressed one would be read as garbage (or, mislabelled,
/// taken as plain), so any content coding but `identity` is 415.
fn encoding_refused(req: &HttpRequest) -> Option<ApiError> {
    let coding = req.headers().get(header::CONTENT_ENCODING)?;
    let identity = coding.to_str().is_ok_and(|c| c.trim().eq_ignore_ascii_case("identity"));
    (!identity).then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send the body uncompressed, without Content-Encoding",
        )
    })
}

/// The payload could not be read: too large (413), or cut off.
fn payload_error(error: actix_web::Error) -> ApiError {
    if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Request body too large",
            format!("at most {MAX_BODY_BYTES} bytes are accepted"),
        )
    } else {
        ApiError::bad_request("unreadable_body", "the request body could not be read completely")
    }
}

/// Parses JSON text strictly (no duplicate keys) into `T`; every failure is a 400 that says
/// what is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let StrictValue(value) = serde_json::from_slice(bytes).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE_KEY) {
            ApiError::bad_request("duplicate_key", format!("the body names a key twice: {e}"))
        } else {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        }
    })?;
    // Every body is an object: serde would also read a struct from an array of its fields.
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object, e.g. {\"reason\": \"...\"}"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// A JSON value whose objects name each key once.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StrictValue, D::Error> {
        deserializer.deserialize_any(StrictVisitor(PhantomData)).map(StrictValue)
    }
}

struct StrictVisitor(PhantomData<()>);

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    /// A number written with a fraction of zero (`2.0`) is the integer it equals, as JSON Schema
    /// (and so the OpenAPI document) counts it; any other fraction stays a float and is refused
    /// where an integer is meant. Amounts are strings, never numbers.
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it a float is not an exact integer
        if v.fract() == 0.0 && v.abs() < EXACT {
            return Ok(Value::from(v as i64));
        }
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE_KEY} {key:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let error = parse_json::<Value>(br#"{"a": 1, "a": 2}"#).err().map(|e| e.code);
        assert_eq!(error, Some("duplicate_key"));
        let error = parse_json::<Value>(br#"{"x": [{"b": 1, "b": 1}]}"#).err().map(|e| e.code);
        assert_eq!(error, Some("duplicate_key"));
        let value: Value = parse_json(br#"{"a": {"a": [1, "x", null, true, 1.5]}, "b": -3}"#).expect("valid");
        assert_eq!(value, serde_json::json!({"a": {"a": [1, "x", null, true, 1.5]}, "b": -3}));
    }

    #[test]
    fn malformed_json_says_so() {
        assert_eq!(parse_json::<Value>(b"{").err().map(|e| e.code), Some("malformed_json"));
        assert_eq!(parse_json::<Value>(br#""x""#).err().map(|e| e.code), Some("invalid_body"));
        assert_eq!(parse_json::<Value>(br#"["a reason"]"#).err().map(|e| e.code), Some("invalid_body"));
    }
}
