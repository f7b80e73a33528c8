//! SigV4 verification. Signing is the client's job (aws-sigv4, botocore); the service side has to
//! rebuild the canonical request from what arrived and compare signatures. The key derivation and
//! HMAC come from aws-sigv4; only the canonicalisation of an *incoming* request is done here.
//!
//! Verification runs in two steps so a request is judged before its body is read: everything the
//! headers carry (key, scope, date, signed headers, and the signature itself when the client
//! declares `x-amz-content-sha256`), then the payload hash once the (bounded) body is in.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorKind};

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (SigV4's rule).
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same for paths, where '/' separates segments.
const PATH: &AsciiSet = &STRICT.remove(b'/');

const SERVICE: &str = "medical-imaging";
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Clone)]
pub struct Verifier {
    pub credentials: Vec<Credentials>,
    pub region: String,
}

/// What is left to check once the body has arrived.
pub enum BodyCheck {
    /// `UNSIGNED-PAYLOAD`: the signature is verified and does not cover the body.
    Unsigned,
    /// The signature is verified against this declared hash; the body must have it.
    Declared(String),
    /// No hash declared: the signature covers the body's hash, so it is checked last.
    Deferred(Box<PendingSignature>),
}

/// A signature whose canonical request lacks only the payload hash.
pub struct PendingSignature {
    /// The canonical request up to its last line (the payload hash).
    canonical_head: String,
    /// `AWS4-HMAC-SHA256\n{date}\n{scope}\n`
    string_to_sign_head: String,
    key: Vec<u8>,
    signature: String,
}

fn mismatch() -> ApiError {
    deny(
        ErrorKind::InvalidSignature,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )
}

impl PendingSignature {
    fn check(&self, payload_hash: &str) -> Result<(), ApiError> {
        let canonical_request = format!("{}{payload_hash}", self.canonical_head);
        let string_to_sign = format!(
            "{}{}",
            self.string_to_sign_head,
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let expected =
            aws_sigv4::sign::v4::calculate_signature(&self.key, string_to_sign.as_bytes());
        if expected == self.signature {
            Ok(())
        } else {
            Err(mismatch())
        }
    }
}

impl BodyCheck {
    /// The last step: the body as received.
    pub fn verify_body(self, body: &[u8]) -> Result<(), ApiError> {
        let body_hash = || hex::encode(Sha256::digest(body));
        match self {
            Self::Unsigned => Ok(()),
            Self::Declared(declared) if declared == body_hash() => Ok(()),
            Self::Declared(_) => Err(deny(
                ErrorKind::InvalidSignature,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )),
            Self::Deferred(pending) => pending.check(&body_hash()),
        }
    }
}

struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn deny(kind: ErrorKind, message: impl Into<String>) -> ApiError {
    ApiError::new(kind, message)
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let malformed = || {
        deny(
            ErrorKind::InvalidSignature,
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        )
    };
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        deny(
            ErrorKind::InvalidSignature,
            "Only the AWS4-HMAC-SHA256 signing algorithm is supported.",
        )
    })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (credential, signed, signature) = (
        credential.ok_or_else(malformed)?,
        signed.ok_or_else(malformed)?,
        signature.ok_or_else(malformed)?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(deny(
            ErrorKind::InvalidSignature,
            format!(
                "Credential should be scoped to a valid region and service: '{}'",
                scope.get(1..).map(|s| s.join("/")).unwrap_or_default()
            ),
        ));
    }
    Ok(Authorization {
        access_key: scope[0],
        date: scope[1],
        region: scope[2],
        service: scope[3],
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let enc = |s: &str| {
                let decoded = percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                utf8_percent_encode(&decoded, STRICT).to_string()
            };
            (enc(k), enc(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(value, &format).ok()?;
    let secs = dt.assume_utc().unix_timestamp();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

impl Verifier {
    pub fn new(pairs: &[(String, String)], region: &str) -> Self {
        Self {
            credentials: pairs
                .iter()
                .map(|(k, s)| Credentials {
                    access_key_id: k.clone(),
                    secret_access_key: s.clone(),
                })
                .collect(),
            region: region.to_string(),
        }
    }

    /// Checks one whole request. `body` is the full request body as received.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), ApiError> {
        self.verify_headers(method, uri, headers)?.verify_body(body)
    }

    /// Checks everything the request line and headers allow, before any of the body is read.
    pub fn verify_headers(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<BodyCheck, ApiError> {
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                deny(
                    ErrorKind::MissingAuthenticationToken,
                    "Missing Authentication Token",
                )
            })?;
        let auth = parse_authorization(header)?;
        let creds = self
            .credentials
            .iter()
            .find(|c| c.access_key_id == auth.access_key)
            .ok_or_else(|| {
                deny(
                    ErrorKind::UnrecognizedClient,
                    "The security token included in the request is invalid.",
                )
            })?;
        if auth.service != SERVICE || auth.region != self.region {
            return Err(deny(
                ErrorKind::InvalidSignature,
                format!(
                    "Credential should be scoped to a valid region and service, not '{}/{}'. Expected '{}/{SERVICE}'.",
                    auth.region, auth.service, self.region
                ),
            ));
        }
        let amz_date = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| deny(ErrorKind::InvalidSignature, "Missing X-Amz-Date header."))?;
        let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
            deny(
                ErrorKind::InvalidSignature,
                "X-Amz-Date is not in the ISO8601 basic format.",
            )
        })?;
        if !amz_date.starts_with(auth.date) {
            return Err(deny(
                ErrorKind::InvalidSignature,
                "Credential date does not match X-Amz-Date.",
            ));
        }
        let now = SystemTime::now();
        let skew = now
            .duration_since(signed_at)
            .unwrap_or_else(|e| e.duration());
        if skew > MAX_SKEW {
            return Err(deny(
                ErrorKind::InvalidSignature,
                format!("Signature expired: {amz_date} is now earlier or later than the allowed 15 minute window."),
            ));
        }
        if !auth.signed_headers.contains(&"host") {
            return Err(deny(
                ErrorKind::InvalidSignature,
                "'Host' must be a signed header.",
            ));
        }

        let mut canonical_headers = String::new();
        for name in &auth.signed_headers {
            let values: Vec<String> = headers
                .get_all(*name)
                .iter()
                .map(|v| canonical_header_value(v.as_bytes()))
                .collect();
            canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
        }
        let path = if uri.path().is_empty() {
            "/"
        } else {
            uri.path()
        };
        let pending = PendingSignature {
            canonical_head: format!(
                "{method}\n{}\n{}\n{canonical_headers}\n{}\n",
                utf8_percent_encode(path, PATH),
                canonical_query(uri.query()),
                auth.signed_headers.join(";"),
            ),
            string_to_sign_head: format!(
                "AWS4-HMAC-SHA256\n{amz_date}\n{}/{}/{}/aws4_request\n",
                auth.date, auth.region, auth.service,
            ),
            key: aws_sigv4::sign::v4::generate_signing_key(
                &creds.secret_access_key,
                signed_at,
                auth.region,
                auth.service,
            )
            .as_ref()
            .to_vec(),
            signature: auth.signature.to_string(),
        };
        match headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
        {
            Some("UNSIGNED-PAYLOAD") => {
                pending.check("UNSIGNED-PAYLOAD")?;
                Ok(BodyCheck::Unsigned)
            }
            Some(declared) => {
                pending.check(declared)?;
                Ok(BodyCheck::Declared(declared.to_string()))
            }
            None => Ok(BodyCheck::Deferred(Box::new(pending))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(
            canonical_query(Some("maxResults=10&nextToken=a%2Fb&force=true")),
            "force=true&maxResults=10&nextToken=a%2Fb"
        );
        assert_eq!(
            canonical_query(Some("tagKeys=b&tagKeys=a")),
            "tagKeys=a&tagKeys=b"
        );
        assert_eq!(canonical_query(None), "");
    }

    #[test]
    fn authorization_header_parses() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/medical-imaging/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(a.access_key, "test");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.signed_headers, vec!["host", "x-amz-date"]);
        assert!(parse_authorization("Bearer x").is_err());
    }
}
