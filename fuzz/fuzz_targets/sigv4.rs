//! Every request to the local HealthImaging is checked by the SigV4 verifier before anything
//! else: hostile request lines, headers and bodies must be refused, never panic. Input: a
//! request as text, "METHOD URI" on the first line, then "name: value" header lines, an empty
//! line and the body.
#![no_main]

use healthimaging_mcp::local::sigv4::Verifier;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
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
