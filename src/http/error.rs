//! RFC 9457 problem+json for every error, with a stable `code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::{classify, DbError, Failure};
use crate::domain::{FieldError, MoneyError};
use crate::ledger::grants::GrantError;
use crate::ledger::LedgerError;

/// Seconds a client is told to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<&'static str>,
    pub extra: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, title, detail: detail.into(), field: None, extra: None }
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> ApiError {
        self.extra = Some(extra);
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, "Malformed request", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed for this role", detail)
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", format!("{} not found", what.into()))
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Request breaks a rule", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    /// A server-side failure: the cause is logged once here and never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it has been logged",
        )
    }
}

impl ApiError {
    fn problem(&self) -> Problem<'_> {
        Problem {
            kind: format!("urn:ptt-ledger:problem:{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            field: self.field,
            extra: self.extra.as_ref(),
        }
    }

    /// The problem body as JSON (the request context adds `instance`).
    pub fn problem_json(&self) -> serde_json::Value {
        serde_json::to_value(self.problem()).unwrap_or_default()
    }

    /// A request that panicked: the panic hook has logged where; the client learns nothing
    /// of it but that the request failed, and nothing of it was committed.
    pub fn panicked() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it has been logged and nothing of it was stored",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = self.problem();
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(body)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        let mut error = ApiError::unprocessable("invalid_field", e.to_string());
        error.field = Some(e.field);
        error
    }
}

impl From<MoneyError> for ApiError {
    fn from(e: MoneyError) -> ApiError {
        ApiError::bad_request("invalid_amount", e.to_string())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        match classify(&e) {
            Failure::NotFound => ApiError::not_found("resource"),
            Failure::Unavailable => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable(
                    "the database could not complete the request now (unreachable, busy past its timeout, or out of space); \
                     retry shortly, with the same Idempotency-Key for a money movement: the retry then does it once, whether or not this attempt was stored",
                )
            }
            Failure::Duplicate => ApiError::conflict("duplicate", "a resource with these unique fields exists already"),
            Failure::UnknownReference => {
                ApiError::unprocessable("unknown_reference", "the request refers to something that does not exist in this fund")
            }
            Failure::Other => ApiError::internal(e),
        }
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> ApiError {
        tracing::warn!(error = %e, "no database connection available");
        ApiError::unavailable("no database connection became free in time; retry shortly")
    }
}

impl From<crate::ledger::employment::EmploymentError> for ApiError {
    fn from(e: crate::ledger::employment::EmploymentError) -> ApiError {
        use crate::ledger::employment::EmploymentError;
        match e {
            EmploymentError::UnknownWorker => ApiError::not_found("worker"),
            EmploymentError::UnknownEmployer => ApiError::unprocessable("unknown_reference", e.to_string()),
            EmploymentError::Rule(rule) => rule.into(),
            EmploymentError::Ledger(e) => e.into(),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        match e {
            LedgerError::InsufficientBudget { usable_cents } => ApiError::conflict(
                "insufficient_budget",
                format!(
                    "the budget cannot cover this; {} is usable",
                    crate::domain::format_cents(usable_cents)
                ),
            ),
            LedgerError::Invariant(message) => ApiError::internal(format!("ledger invariant: {message}")),
            LedgerError::Db(e) => e.into(),
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> ApiError {
        match e {
            GrantError::UnknownWorker(_) | GrantError::UnknownScheme(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference", "Unknown reference", e.to_string())
            }
            GrantError::GrantYear { .. } => {
                let mut error = ApiError::unprocessable("invalid_field", e.to_string());
                error.field = Some("grant_year");
                error
            }
            GrantError::MaxBalanceReached => ApiError::unprocessable("max_balance_reached", e.to_string()),
            GrantError::Ledger(e) => e.into(),
        }
    }
}
