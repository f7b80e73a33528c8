//! The engine's one error type. Every SDK failure is mapped here, once, into a kind that the MCP
//! layer reports as `{"error": true, "type": ..., "message": ...}`.

use aws_sdk_medicalimaging::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use schemars::JsonSchema;
use serde::Serialize;

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    #[serde(rename = "validation_error")]
    Validation,
    NotFound,
    #[serde(rename = "auth_error")]
    Auth,
    #[serde(rename = "conflict_error")]
    Conflict,
    #[serde(rename = "throttling_error")]
    Throttling,
    // HealthImaging (or the network to it) failed.
    #[serde(rename = "service_error")]
    Service,
    // A fault of this server itself.
    #[serde(rename = "server_error")]
    Server,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation_error",
            Self::NotFound => "not_found",
            Self::Auth => "auth_error",
            Self::Conflict => "conflict_error",
            Self::Throttling => "throttling_error",
            Self::Service => "service_error",
            Self::Server => "server_error",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub kind: ErrorType,
    pub message: String,
    /// The AWS error code (e.g. `ConflictException`), when the service answered.
    pub code: Option<String>,
    /// The HTTP status, when the service answered.
    pub status: Option<u16>,
}

pub type EngineResult<T> = Result<T, EngineError>;

// An error reported inside a result (one item of a run, a check after it) rather than as the
// tool's failure.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ErrorReport {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    pub message: String,
}

impl From<&EngineError> for ErrorReport {
    fn from(e: &EngineError) -> Self {
        Self {
            kind: e.kind,
            message: e.message.clone(),
        }
    }
}

/// A caller's value as error messages show it: quoted, and cut to a short prefix with its
/// length when long (a 1 MB ID must not come back as a 1 MB error).
pub fn excerpt(value: &str) -> String {
    crate::dicom::values::shown(value)
}

/// Longest service error message passed on (the service may echo a value it refused).
const MAX_SERVICE_MESSAGE: usize = 1024;

pub fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_SERVICE_MESSAGE {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX_SERVICE_MESSAGE).collect();
        format!("{head}… (message cut at {MAX_SERVICE_MESSAGE} characters)")
    }
}

impl EngineError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            status: None,
        }
    }

    /// A parameter that breaks a rule, reported before any request is sent.
    pub fn invalid(param: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorType::Validation,
            format!("Invalid parameter '{param}': {rule}"),
        )
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Server, message)
    }
}

pub fn kind_of_code(code: &str) -> ErrorType {
    match code {
        "ValidationException"
        | "BadRequestException"
        | "NotAcceptableException"
        | "SerializationException"
        // A quota (tags per resource, ...) is a limit on the request, which the caller can fix.
        | "ServiceQuotaExceededException"
        | "TooManyTagsException" => ErrorType::Validation,
        "ResourceNotFoundException" => ErrorType::NotFound,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "IncompleteSignatureException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "SignatureDoesNotMatch" => ErrorType::Auth,
        "ConflictException" => ErrorType::Conflict,
        "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            ErrorType::Throttling
        }
        _ => ErrorType::Service,
    }
}

/// The innermost error's text (e.g. "Connection refused (os error 111)"), without the
/// debug dumps of the layers around it.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    let mut texts = vec![current.to_string()];
    while let Some(next) = current.source() {
        texts.push(next.to_string());
        current = next;
    }
    // Prefer the deepest message that says something (some layers only say "io error").
    texts
        .into_iter()
        .rev()
        .find(|t| t.len() > 12)
        .unwrap_or_else(|| "unknown error".into())
}

/// Maps any SDK error of operation `op` into an `EngineError`.
pub fn from_sdk<E>(op: &str, err: SdkError<E, HttpResponse>) -> EngineError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("UnknownError").to_string();
            let message = bounded(e.message().unwrap_or("no message"));
            EngineError {
                kind: kind_of_code(&code),
                message: format!("{op} failed: {code}: {message}"),
                code: Some(code),
                status,
            }
        }
        SdkError::TimeoutError(_) => EngineError::new(
            ErrorType::Service,
            format!("{op} timed out waiting for HealthImaging; check the endpoint and network"),
        ),
        SdkError::DispatchFailure(_)
        | SdkError::ResponseError(_)
        | SdkError::ConstructionFailure(_)
        | _ => {
            let detail = DisplayErrorContext(&err).to_string();
            let lower = detail.to_ascii_lowercase();
            let kind = if lower.contains("credential") {
                ErrorType::Auth
            } else if matches!(err, SdkError::ConstructionFailure(_)) && lower.contains("region") {
                ErrorType::Validation
            } else {
                ErrorType::Service
            };
            let root = root_cause(&err);
            let message = match kind {
                ErrorType::Auth => format!(
                    "{op}: no usable AWS credentials ({root}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
                ),
                ErrorType::Validation => format!("{op}: the client is not configured ({root}); set AWS_REGION"),
                _ => format!("{op} could not reach HealthImaging: {root}"),
            };
            EngineError {
                kind,
                message,
                code: None,
                status,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_serialize_as_their_names() {
        for kind in [
            ErrorType::Validation,
            ErrorType::NotFound,
            ErrorType::Auth,
            ErrorType::Conflict,
            ErrorType::Throttling,
            ErrorType::Service,
            ErrorType::Server,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        let e = EngineError::new(ErrorType::Conflict, "busy");
        assert_eq!(
            serde_json::to_value(ErrorReport::from(&e)).unwrap(),
            serde_json::json!({"type": "conflict_error", "message": "busy"})
        );
    }

    #[test]
    fn quota_errors_are_validation_errors() {
        assert_eq!(
            kind_of_code("ServiceQuotaExceededException"),
            ErrorType::Validation
        );
        assert_eq!(kind_of_code("InternalServerException"), ErrorType::Service);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(excerpt("abc"), "'abc'");
        let huge = "x".repeat(1_000_000);
        let shown = excerpt(&huge);
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.starts_with(&format!("'{}…'", "x".repeat(64))));
        assert!(shown.ends_with("(1000000 characters)"));
        // Cut on characters, never inside one.
        assert_eq!(
            excerpt(&"é".repeat(65)),
            format!("'{}…' (65 characters)", "é".repeat(64))
        );
        assert!(bounded(&huge).len() < 1100);
    }
}
