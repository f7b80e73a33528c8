//! STOW-RS uploads (StoreDICOM): a batch of Part-10 files as one `multipart/related;
//! type="application/dicom"` request, streamed from the files (read once to sign the payload
//! hash, once to send it), never held whole in memory. The answer lists the stored and the
//! failed SOP instances.

use std::io::Read;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{body_bytes, client, Request};
use crate::engine::{EngineError, EngineResult, ErrorType};
use crate::files::Roots;

const BOUNDARY: &str = "healthimaging-mcp-stow-7d1f0c3a";
const PIECE: usize = 256 * 1024;
const MAX_ANSWER: usize = 64 * 1024 * 1024;

fn part_head() -> String {
    format!("--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n")
}

fn closing() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

/// The bytes of the body, in order, as pieces: each file between its part head and the line
/// break before the next boundary.
fn pieces(
    roots: &Roots,
    files: &[PathBuf],
    mut each: impl FnMut(Bytes) -> bool,
) -> EngineResult<()> {
    for (i, path) in files.iter().enumerate() {
        let head = if i == 0 {
            part_head()
        } else {
            format!("\r\n{}", part_head())
        };
        if !each(Bytes::from(head)) {
            return Ok(());
        }
        let mut file = roots.open_read(path)?;
        let mut buf = vec![0u8; PIECE];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| EngineError::server(format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            if !each(Bytes::copy_from_slice(&buf[..n])) {
                return Ok(());
            }
        }
    }
    each(Bytes::from(closing()));
    Ok(())
}

/// A request body fed by a reading thread.
struct Fed(tokio::sync::mpsc::Receiver<Result<Bytes, String>>);

impl http_body::Body for Fed {
    type Data = Bytes;
    type Error = String;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, String>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

/// Stores `files` (canonical paths inside `roots`) in one request; the STOW-RS answer (DICOM
/// JSON with ReferencedSOPSequence / FailedSOPSequence).
pub async fn store(datastore_id: &str, roots: &Roots, files: Vec<PathBuf>) -> EngineResult<Value> {
    crate::engine::validate::shape(
        "datastore_id",
        datastore_id,
        crate::model::constraints::Shape::ResourceId,
    )?;
    let (roots, files) = (roots.clone(), Arc::new(files));
    // First pass: length and SHA-256 of the body, for the signature.
    let (hash, len) = {
        let (roots, files) = (roots.clone(), files.clone());
        tokio::task::spawn_blocking(move || {
            let mut sha = Sha256::new();
            let mut len = 0u64;
            pieces(&roots, &files, |b| {
                sha.update(&b);
                len += b.len() as u64;
                true
            })?;
            Ok::<_, EngineError>((hex::encode(sha.finalize()), len))
        })
        .await
        .map_err(|e| EngineError::server(format!("reading the files: {e}")))??
    };
    let make = move || {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (roots, files) = (roots.clone(), files.clone());
        tokio::task::spawn_blocking(move || {
            let out = pieces(&roots, &files, |b| tx.blocking_send(Ok(b)).is_ok());
            if let Err(e) = out {
                let _ = tx.blocking_send(Err(e.message));
            }
        });
        aws_smithy_types::body::SdkBody::from_body_1_x(Fed(rx))
    };
    let req = Request {
        operation: "StoreDICOM",
        method: "POST",
        path: "/studies".into(),
        query: Vec::new(),
        accept: "application/dicom+json".into(),
        content_type: Some(format!(
            "multipart/related; type=\"application/dicom\"; boundary={BOUNDARY}"
        )),
        body: Some((hash, len, Arc::new(make))),
        answer_on: &[409],
    };
    let c = client().await?;
    let resp = c.send(datastore_id, &req).await?;
    let body = body_bytes(resp, MAX_ANSWER).await?;
    serde_json::from_slice::<Value>(&body).map_err(|_| {
        EngineError::new(
            ErrorType::Service,
            "StoreDICOM: the answer is not DICOM JSON",
        )
    })
}

/// One instance of a STOW-RS answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SopResult {
    pub sop_instance_uid: Option<String>,
    pub retrieve_url: Option<String>,
    /// The failure reason code (PS3.18 Table 10.5.3-2), for a failed one.
    pub failure_reason: Option<u64>,
}

fn string_of(item: &Value, tag: &str) -> Option<String> {
    item.get(tag)?
        .get("Value")?
        .get(0)?
        .as_str()
        .map(str::to_string)
}

/// The referenced (stored) and failed instances of a STOW-RS answer.
pub fn results(answer: &Value) -> (Vec<SopResult>, Vec<SopResult>) {
    let items = |tag: &str| -> Vec<SopResult> {
        answer
            .get(tag)
            .and_then(|s| s.get("Value"))
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .map(|item| SopResult {
                        sop_instance_uid: string_of(item, "00081155"),
                        retrieve_url: string_of(item, "00081190"),
                        failure_reason: item
                            .get("00081197")
                            .and_then(|r| r.get("Value"))
                            .and_then(|v| v.get(0))
                            .and_then(Value::as_u64),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    (items("00081199"), items("00081198"))
}

/// A failure reason code as words (PS3.18 Table 10.5.3-2 and PS3.4 C.4.2.1.4).
pub fn reason_text(code: u64) -> String {
    let words = match code {
        0x0110 => "processing failure",
        0x0122 => "SOP class not supported",
        0x0124 => "refused: not authorized",
        0xA700 => "refused: out of resources",
        0xA900 => "data set does not match the SOP class or the study",
        0xC000 => "cannot understand",
        0xC122 => "transfer syntax not supported",
        _ => "failed",
    };
    format!("{words} (reason 0x{code:04X})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_and_failed_instances_of_an_answer() {
        let answer = json!({
            "00081199": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": ["1.2.3"]},
                 "00081190": {"vr": "UR", "Value": ["http://h/datastore/d/studies/1/series/2/instances/1.2.3?imageSetId=0123456789abcdef0123456789abcdef"]}}
            ]},
            "00081198": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": ["1.2.4"]}, "00081197": {"vr": "US", "Value": [49152]}}
            ]}
        });
        let (ok, failed) = results(&answer);
        assert_eq!(ok[0].sop_instance_uid.as_deref(), Some("1.2.3"));
        assert!(ok[0]
            .retrieve_url
            .as_deref()
            .unwrap()
            .contains("/series/2/"));
        assert_eq!(failed[0].failure_reason, Some(0xC000));
        assert_eq!(reason_text(0xC000), "cannot understand (reason 0xC000)");
    }

    #[test]
    fn the_body_is_a_multipart_of_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"AAAA").unwrap();
        std::fs::write(dir.path().join("b"), b"BB").unwrap();
        let roots = Roots::new([dir.path().to_path_buf()]).unwrap();
        let files = vec![roots.existing("a").unwrap(), roots.existing("b").unwrap()];
        let mut body = Vec::new();
        pieces(&roots, &files, |b| {
            body.extend_from_slice(&b);
            true
        })
        .unwrap();
        let want = format!("{}AAAA\r\n{}BB{}", part_head(), part_head(), closing());
        assert_eq!(String::from_utf8(body).unwrap(), want);
    }
}
