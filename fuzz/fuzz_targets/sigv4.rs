//! Every request to the local HealthImaging is checked by the SigV4 verifier before anything
//! else: hostile request lines, headers and bodies must be refused, never panic. Input: a
//! request as text, "METHOD URI" on the first line, then "name: value" header lines, an empty
//! line and the body. `@NOW@` and `@TODAY@` in the head stand for the current time
//! (`YYYYMMDDTHHMMSSZ`) and date: a fixed date would be refused as expired before the
//! canonical request is ever built.
#![no_main]

use std::time::{SystemTime, UNIX_EPOCH};

use healthimaging_mcp::local::sigv4::Verifier;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;

/// The current UTC time as `YYYYMMDDTHHMMSSZ` (days to civil date after Howard Hinnant).
fn now_basic() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let now = now_basic();
    let head = replace(head, b"@NOW@", now.as_bytes());
    let head = replace(&head, b"@TODAY@", &now.as_bytes()[..8]);
    let mut lines = head.split(|&b| b == b'\n');
    let Some(request_line) = lines.next() else {
        return;
    };
    let mut parts = request_line.splitn(2, |&b| b == b' ');
    let (Some(method), Some(uri)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(method), Ok(uri)) = (Method::from_bytes(method), Uri::try_from(uri)) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let verifier = Verifier::new(&[("test".into(), "test".into())], "us-east-1");
    let _ = verifier.verify(&method, &uri, &headers, body);
});
