//! HealthImaging's DICOMweb APIs (QIDO-RS, WADO-RS, STOW-RS), which no AWS SDK covers: plain
//! HTTP requests signed with SigV4 (service `medical-imaging`) from the same credentials chain,
//! region and retry settings as the SDK client (`config::loaded`), sent through the same HTTPS
//! connector and paced by the same per-operation rate limit (`rate_limit::paced`).
//!
//! Where requests go: `AWS_ENDPOINT_URL_MEDICAL_IMAGING`, else `AWS_ENDPOINT_URL` (or a
//! profile's `endpoint_url`) unchanged (the local HealthImaging serves DICOMweb on its one
//! port), else `https://dicom-medical-imaging.<region>.amazonaws.com`.
//!
//! Retries follow the SDK's settings (AWS_MAX_ATTEMPTS, default 3 attempts; exponential backoff
//! from the SDK's initial backoff up to its maximum, with full jitter) for throttles (429),
//! server errors (500, 502, 503, 504) and requests that got no answer.

pub mod qido;
pub mod retrieve;
pub mod stow;
pub mod upload;
pub mod wado;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::{bounded, kind_of_code, root_cause};
use super::{config, env, rate_limit, EngineError, EngineResult, ErrorType};

/// Query values are percent-encoded except RFC 3986's unreserved characters (SigV4's rule, so
/// the signed and the sent query are the same text).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Longest error body read into a message.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Makes a fresh request body for each attempt.
pub type MakeBody = Arc<dyn Fn() -> SdkBody + Send + Sync>;

/// One DICOMweb request, replayable for retries.
pub struct Request {
    /// The operation's name (rate limit, errors): `SearchDICOMStudies`, `GetDICOMInstance`, ...
    pub operation: &'static str,
    pub method: &'static str,
    /// Path below `/datastore/<id>`, already percent-encoded where needed.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub accept: String,
    pub content_type: Option<String>,
    /// `(sha256 hex, length, body)` of a request that carries one.
    pub body: Option<(String, u64, MakeBody)>,
    /// Error statuses whose body is still the answer (STOW-RS reports failed instances with
    /// 409).
    pub answer_on: &'static [u16],
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish()
    }
}

impl Request {
    pub fn get(operation: &'static str, path: String, accept: &str) -> Self {
        Self {
            operation,
            method: "GET",
            path,
            query: Vec::new(),
            accept: accept.to_string(),
            content_type: None,
            body: None,
            answer_on: &[],
        }
    }
}

/// The client: where to send, how to sign, how to retry.
#[derive(Clone)]
pub struct Client {
    base: String,
    region: String,
    connector: SharedHttpConnector,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    retry: RetryConfig,
    limiter: Option<Arc<rate_limit::Limiter>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("dicomweb::Client")
            .field("base", &self.base)
            .field("region", &self.region)
            .finish()
    }
}

/// `https://dicom-medical-imaging.<region>.amazonaws.com`, or the custom endpoint.
pub fn base_url(
    region: &str,
    service_endpoint: Option<&str>,
    shared_endpoint: Option<&str>,
) -> String {
    match service_endpoint.or(shared_endpoint) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("https://dicom-medical-imaging.{region}.amazonaws.com"),
    }
}

static CLIENT: tokio::sync::Mutex<Option<(usize, Client)>> = tokio::sync::Mutex::const_new(None);

/// The DICOMweb client of the current engine client (rebuilt when that one is).
pub async fn client() -> EngineResult<Client> {
    // Building the SDK client loads the shared configuration and installs the rate limit.
    let _ = super::client().await;
    let sdk = config::loaded()
        .ok_or_else(|| EngineError::server("the AWS configuration is not loaded"))?;
    let limiter = rate_limit::current();
    let generation = limiter.as_ref().map_or(0, |l| Arc::as_ptr(l) as usize);
    let mut slot = CLIENT.lock().await;
    if let Some((g, c)) = slot.as_ref() {
        if *g == generation {
            return Ok(c.clone());
        }
    }
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        EngineError::new(
            ErrorType::Validation,
            "DICOMweb: no AWS region is configured; set AWS_REGION",
        )
    })?;
    let base = base_url(
        &region,
        env::var("AWS_ENDPOINT_URL_MEDICAL_IMAGING").as_deref(),
        sdk.endpoint_url(),
    );
    let c = Client {
        base,
        region,
        connector: SharedHttpConnector::new(config::https_connector(None, None)),
        credentials: sdk.credentials_provider(),
        retry: sdk
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard),
        limiter,
    };
    *slot = Some((generation, c.clone()));
    Ok(c)
}

impl Client {
    fn url(&self, datastore_id: &str, req: &Request) -> String {
        let mut url = format!("{}/datastore/{datastore_id}{}", self.base, req.path);
        for (i, (k, v)) in req.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&utf8_percent_encode(k, QUERY).to_string());
            url.push('=');
            url.push_str(&utf8_percent_encode(v, QUERY).to_string());
        }
        url
    }

    async fn signed(&self, url: &str, req: &Request) -> EngineResult<HttpRequest> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            EngineError::new(
                ErrorType::Auth,
                "DICOMweb: no AWS credentials are configured",
            )
        })?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            EngineError::new(
                ErrorType::Auth,
                format!(
                    "{}: no usable AWS credentials ({}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
                    req.operation,
                    root_cause(&e)
                ),
            )
        })?;
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("medical-imaging")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| EngineError::server(format!("signing: {e}")))?
            .into();
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or_default()
            .to_string();
        let mut headers: Vec<(&str, String)> = vec![
            ("host", host),
            ("accept", req.accept.clone()),
            ("user-agent", config::USER_AGENT_METADATA.to_string()),
        ];
        if let Some(ct) = &req.content_type {
            headers.push(("content-type", ct.clone()));
        }
        let empty_hash;
        let body = match &req.body {
            Some((hash, len, _)) => {
                headers.push(("content-length", len.to_string()));
                SignableBody::Precomputed(hash.clone())
            }
            None => {
                empty_hash = SignableBody::Bytes(&[]);
                empty_hash
            }
        };
        let signable = SignableRequest::new(
            req.method,
            url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            body,
        )
        .map_err(|e| EngineError::server(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| EngineError::server(format!("signing: {e}")))?
            .into_parts();
        let mut builder = hyper::http::Request::builder().method(req.method).uri(url);
        for (k, v) in &headers {
            builder = builder.header(*k, v);
        }
        let body = match &req.body {
            Some((_, _, make)) => make(),
            None => SdkBody::empty(),
        };
        let mut request = builder
            .body(body)
            .map_err(|e| EngineError::server(format!("request: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        HttpRequest::try_from(request).map_err(|e| EngineError::server(format!("request: {e}")))
    }

    /// Sends `req` for data store `datastore_id` with retries; a success (2xx) response, whose
    /// body the caller streams.
    pub async fn send(&self, datastore_id: &str, req: &Request) -> EngineResult<HttpResponse> {
        let url = self.url(datastore_id, req);
        let attempts = self.retry.max_attempts().max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.signed(&url, req).await?;
            let sent = self.connector.call(request);
            let answer = match &self.limiter {
                Some(l) => rate_limit::paced(l, req.operation, sent).await,
                None => sent.await,
            };
            let retryable = match &answer {
                Ok(r) => matches!(r.status().as_u16(), 429 | 500 | 502 | 503 | 504),
                Err(_) => true,
            };
            if !retryable || attempt >= attempts {
                return match answer {
                    Ok(r)
                        if r.status().is_success()
                            || req.answer_on.contains(&r.status().as_u16()) =>
                    {
                        Ok(r)
                    }
                    Ok(r) => Err(error_of(req.operation, r).await),
                    Err(e) => Err(EngineError::new(
                        ErrorType::Service,
                        format!("{} got no answer: {}", req.operation, root_cause(&e)),
                    )),
                };
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    /// Full jitter over the SDK's exponential backoff.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry.initial_backoff().as_secs_f64() * 2f64.powi(attempt as i32 - 1);
        let cap = base.min(self.retry.max_backoff().as_secs_f64());
        Duration::from_secs_f64(cap * rand::random::<f64>())
    }
}

/// The whole (small) body of a response.
pub async fn body_bytes(resp: HttpResponse, max: usize) -> EngineResult<bytes::Bytes> {
    use http_body::Body as _;
    let mut body = resp.into_body();
    let mut out = bytes::BytesMut::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| {
            EngineError::new(
                ErrorType::Service,
                format!("reading a DICOMweb answer: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(EngineError::new(
                    ErrorType::Service,
                    format!("a DICOMweb answer is larger than {max} bytes"),
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// An error answer as an `EngineError`: the AWS error code (header or JSON `__type`) decides the
/// kind, else the HTTP status.
async fn error_of(op: &str, resp: HttpResponse) -> EngineError {
    let status = resp.status().as_u16();
    let header_code = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|c| c.split(':').next().unwrap_or(c).to_string());
    let body = body_bytes(resp, MAX_ERROR_BODY).await.unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let field = |names: &[&str]| {
        json.as_ref().and_then(|j| {
            names
                .iter()
                .find_map(|n| j.get(*n).and_then(|v| v.as_str()).map(str::to_string))
        })
    };
    let code = header_code.or_else(|| {
        field(&["__type", "code"]).map(|c| c.rsplit('#').next().unwrap_or(&c).to_string())
    });
    let message = field(&["message", "Message"])
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    let kind = match (&code, status) {
        (Some(c), _) if kind_of_code(c) != ErrorType::Service => kind_of_code(c),
        (_, 400 | 406 | 409 | 413 | 415) => ErrorType::Validation,
        (_, 401 | 403) => ErrorType::Auth,
        (_, 404) => ErrorType::NotFound,
        (_, 429) => ErrorType::Throttling,
        _ => ErrorType::Service,
    };
    let code_text = code.clone().unwrap_or_else(|| format!("HTTP {status}"));
    let message = if message.is_empty() {
        "no message".to_string()
    } else {
        bounded(&message)
    };
    EngineError {
        kind,
        message: format!("{op} failed: {code_text}: {message}"),
        code,
        status: Some(status),
    }
}

/// A DICOM UID as a path segment: checked (digits and dots), so it needs no encoding.
pub fn uid(name: &str, value: &str) -> EngineResult<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(value.to_string())
    } else {
        Err(EngineError::invalid(
            name,
            format!(
                "{} is not a DICOM UID (digits and dots, at most 64 characters)",
                super::error::excerpt(value)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            base_url("eu-west-1", None, None),
            "https://dicom-medical-imaging.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            base_url("us-east-1", Some("http://127.0.0.1:9/"), Some("http://x")),
            "http://127.0.0.1:9"
        );
        assert_eq!(base_url("us-east-1", None, Some("http://x/")), "http://x");
    }

    #[test]
    fn uids_are_checked() {
        assert!(uid("study_instance_uid", "1.2.840.10008").is_ok());
        for bad in ["", "1..2", "1.2.a", "1/2", &"1".repeat(65)] {
            let e = uid("study_instance_uid", bad).unwrap_err();
            assert_eq!(e.kind, ErrorType::Validation);
        }
    }
}
