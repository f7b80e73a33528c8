//! The checks every request passes before any handler sees it, in the order that reads the least:
//! the Host header (a page in a browser that rebinds its DNS name to 127.0.0.1 still sends its own
//! name), the SigV4 signature as far as the headers allow, the declared body size, then the body
//! itself, read with a size bound and a deadline, and its payload hash.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, request::Parts, uri::Authority};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::error::{ApiError, ErrorKind};
use super::sigv4::Verifier;

/// Largest request body accepted: the next power of two above the largest request the service
/// model allows, StartDICOMImportJob with 1,000 `dicomMetadataMappings` at their length limits
/// (about 3.2 MB; CopyImageSet's 260,000-character `copiableAttributes` fully escaped is 1.6 MB,
/// UpdateImageSetMetadata's two 30,000-byte blobs in base64 80 kB).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The service's documented STOW-RS limit: up to 1 GB of DICOM per request.
pub const DEFAULT_STOW_MAX_BODY: usize = 1024 * 1024 * 1024;

/// The host names a request may be addressed to: the loopback names with the bound port, the
/// bound address itself, and whatever `--allow-host` adds (for a proxy in front).
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    /// (lower-case host, port): `None` accepts any port.
    entries: Vec<(String, Option<u16>)>,
}

/// `host[:port]` → (lower-case host, port); IPv6 hosts keep their brackets.
fn split_host(value: &str) -> Option<(String, Option<u16>)> {
    let authority: Authority = value.trim().parse().ok()?;
    if value.contains('@') {
        return None;
    }
    Some((authority.host().to_ascii_lowercase(), authority.port_u16()))
}

/// An `--allow-host` value that is not `host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error("--allow-host {0:?} is not host[:port]")]
pub struct BadAllowedHost(pub String);

impl AllowedHosts {
    /// `extra` entries are `host` (any port) or `host:port`; an invalid one is the error.
    pub fn new(bound: SocketAddr, extra: &[String]) -> Result<Self, BadAllowedHost> {
        let port = Some(bound.port());
        let mut entries: Vec<(String, Option<u16>)> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| (h.to_string(), port))
            .collect();
        match bound.ip() {
            ip if ip.is_unspecified() => {}
            std::net::IpAddr::V4(ip) => entries.push((ip.to_string(), port)),
            std::net::IpAddr::V6(ip) => entries.push((format!("[{ip}]"), port)),
        }
        for value in extra {
            entries.push(split_host(value).ok_or_else(|| BadAllowedHost(value.clone()))?);
        }
        Ok(Self { entries })
    }

    /// A Host value is accepted when its name is allowed and its port, if it gives one, matches.
    pub fn allows(&self, value: &str) -> bool {
        let Some((host, port)) = split_host(value) else {
            return false;
        };
        self.entries
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || port.is_none() || *p == port))
    }
}

/// The front door's settings; `layer` puts it in front of a router.
pub struct FrontDoor {
    pub verifier: Verifier,
    pub hosts: AllowedHosts,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Largest STOW-RS (DICOMweb upload) body.
    pub stow_max_body: usize,
}

impl FrontDoor {
    pub fn layer<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        // Handlers' body extractors get the same bound (axum's own default is 2 MB, with a
        // plain-text 413).
        router
            .layer(DefaultBodyLimit::max(MAX_BODY.max(self.stow_max_body)))
            .layer(middleware::from_fn_with_state(Arc::new(self), admit))
    }

    fn check_host(&self, parts: &Parts) -> Result<(), ApiError> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        if self.hosts.allows(&host) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!(
                    "Host '{host}' is not served here (only the address the server is bound to, \
                     or one allowed with --allow-host); this protects a loopback server from DNS rebinding."
                ),
            ))
        }
    }
}

fn too_large(size: Option<u64>, limit: usize) -> ApiError {
    let size = size.map(|n| format!(" of {n} bytes")).unwrap_or_default();
    ApiError::new(
        ErrorKind::RequestTooLarge,
        format!("Request body{size} is larger than the {limit}-byte limit."),
    )
}

async fn admit(State(door): State<Arc<FrontDoor>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(e) = door.check_host(&parts) {
        return e.into_response();
    }
    let body_check = match door
        .verifier
        .verify_headers(&parts.method, &parts.uri, &parts.headers)
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // DICOMweb uploads (STOW-RS) have their own, larger limit.
    let limit = if super::dicomweb::is_store_request(&parts.method, parts.uri.path()) {
        door.stow_max_body
    } else {
        MAX_BODY
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(declared, limit).into_response();
    }
    let bytes =
        match tokio::time::timeout(door.body_timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) if is_length_limit(&e) => return too_large(None, limit).into_response(),
            Ok(Err(_)) => {
                return ApiError::new(ErrorKind::BadRequest, "The request body could not be read.")
                    .into_response()
            }
            Err(_) => {
                return ApiError::new(
                    ErrorKind::RequestTimeout,
                    "The request body did not arrive within the idle timeout.",
                )
                .into_response()
            }
        };
    if let Err(e) = body_check.verify_body(&bytes) {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `to_bytes` reports the size bound as a `LengthLimitError` somewhere in the error's chain.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit") {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hosts(extra: &[&str]) -> AllowedHosts {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        AllowedHosts::new("127.0.0.1:8080".parse().unwrap(), &extra).unwrap()
    }

    #[test]
    fn loopback_names_with_the_bound_port_are_served() {
        let h = hosts(&[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "localhost",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "evil.example",
            "localhost:8081",
            "127.0.0.1.evil.example:8080",
            "",
            "user@localhost:8080",
        ] {
            assert!(!h.allows(refused), "{refused}");
        }
    }

    #[test]
    fn allow_list_adds_names_with_or_without_a_port() {
        let h = hosts(&["proxy.example", "other.example:443"]);
        assert!(h.allows("proxy.example:9999"));
        assert!(h.allows("other.example:443"));
        assert!(!h.allows("other.example:444"));
        let bound = AllowedHosts::new("10.1.2.3:7000".parse().unwrap(), &[]).unwrap();
        assert!(bound.allows("10.1.2.3:7000"));
        let e = AllowedHosts::new("127.0.0.1:1".parse().unwrap(), &["a b".into()]).unwrap_err();
        assert_eq!(e.to_string(), r#"--allow-host "a b" is not host[:port]"#);
    }

    /// The limit holds the largest requests the service model allows.
    #[test]
    fn largest_modeled_requests_fit_the_body_limit() {
        let mapping = json!({
            "studyInstanceUID": "1".repeat(512),
            "seriesInstanceUID": "1".repeat(512),
            "metadataFilePath": "\"".repeat(1024),
        });
        let import = json!({
            "jobName": "j".repeat(64),
            "dataAccessRoleArn": format!("arn:aws:iam::123456789012:role/{}", "r".repeat(2000)),
            "clientToken": "c".repeat(64),
            "inputS3Uri": format!("s3://bkt/{}", "k".repeat(1014)),
            "outputS3Uri": format!("s3://bkt/{}", "k".repeat(1014)),
            "inputOwnerAccountId": "123456789012",
            "importConfiguration": {"dicomJsonMetadataImportConfiguration": {
                "dicomMetadataMappings": vec![mapping; 1000]}},
        })
        .to_string();
        let copy = json!({"sourceImageSet": {"latestVersionId": "1",
            "DICOMCopies": {"copiableAttributes": "\u{1}".repeat(260_000)}}})
        .to_string();
        assert!(
            import.len() > 3_000_000 && import.len() <= MAX_BODY,
            "{}",
            import.len()
        );
        assert!(copy.len() <= MAX_BODY, "{}", copy.len());
    }
}
