//! The service's error shapes: one kind per modeled exception (plus the SigV4 rejections the
//! front door of every AWS service produces), each with its HTTP status and wire code.

use axum::http::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    BadRequest,
    ServiceQuotaExceeded,
    AccessDenied,
    ResourceNotFound,
    NotAcceptable,
    /// A body in a media type the operation does not take (415; DICOMweb STOW-RS).
    UnsupportedMediaType,
    Conflict,
    Throttling,
    InternalServer,
    /// Injected fault only (503): the service's front end answers it when overloaded.
    ServiceUnavailable,
    /// Signature mismatch, expired or wrongly scoped signature.
    InvalidSignature,
    /// No `Authorization` header at all.
    MissingAuthenticationToken,
    /// Access key unknown to the service.
    UnrecognizedClient,
    /// No route matches method + path.
    UnknownOperation,
    /// Body is not the JSON the operation expects.
    Serialization,
    /// Body larger than the largest request the service model allows (413).
    RequestTooLarge,
    /// Body not received within the idle timeout (408; SDKs retry it as transient).
    RequestTimeout,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::BadRequest => "BadRequestException",
            Self::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Self::AccessDenied => "AccessDeniedException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::NotAcceptable => "NotAcceptableException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
            Self::Conflict => "ConflictException",
            Self::Throttling => "ThrottlingException",
            Self::InternalServer => "InternalServerException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Serialization => "SerializationException",
            Self::RequestTooLarge => "RequestEntityTooLargeException",
            Self::RequestTimeout => "RequestTimeoutException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation | Self::BadRequest | Self::Serialization => StatusCode::BAD_REQUEST,
            Self::ServiceQuotaExceeded => StatusCode::PAYMENT_REQUIRED,
            Self::AccessDenied
            | Self::InvalidSignature
            | Self::MissingAuthenticationToken
            | Self::UnrecognizedClient => StatusCode::FORBIDDEN,
            Self::ResourceNotFound | Self::UnknownOperation => StatusCode::NOT_FOUND,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Throttling => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalServer, message)
    }
    /// AWS's wording for a constraint violation on one member.
    pub fn constraint(member: &str, value: &str, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
