//! Where exported files land: an S3 bucket (aws-sdk-s3 on the server's loaded configuration,
//! the data access role assumed through STS) or a folder under the allowed file roots. Every
//! instance is streamed from WADO-RS through a SHA-256 hasher: to a temporary file renamed into
//! place (folders), or to a spool file uploaded in one request or in parts (S3), so memory stays
//! flat whatever the instance size. The SHA-256 is kept with the object (S3 user metadata
//! `sha256`) so a resumed export can tell a complete object from a stale one.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite};

use super::request::Destination;
use crate::engine::dicomweb::wado::{self, Where};
use crate::engine::{env, EngineError, EngineResult, ErrorType};
use crate::files::Roots;

/// Objects up to this size go in one PutObject; larger ones in parts of this size.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Hashing<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.hash.update(&buf[..n]);
            self.bytes += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What was written: size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

fn io(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::server(format!("{what}: {e}"))
}

/// Streams one instance into `file` through the hasher.
async fn fetch_into(
    w: &Where,
    sop: &str,
    ts: Option<&str>,
    file: tokio::fs::File,
) -> EngineResult<Written> {
    let mut out = Hashing {
        inner: file,
        hash: Sha256::new(),
        bytes: 0,
    };
    wado::instance(w, sop, ts, &mut out).await?;
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(|e| io("writing the file", e))?;
    out.inner
        .sync_all()
        .await
        .map_err(|e| io("writing the file", e))?;
    Ok(Written {
        size: out.bytes,
        sha256: hex::encode(out.hash.finalize()),
    })
}

/// SHA-256 (hex) of a file, read in blocks.
async fn sha256_of(path: &std::path::Path) -> Option<String> {
    let mut f = tokio::fs::File::open(path).await.ok()?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await.ok()?;
        if n == 0 {
            return Some(hex::encode(hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

fn s3_error(operation: &str, key: &str, e: impl std::error::Error) -> EngineError {
    let text = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
    let kind = if text.contains("NoSuchBucket") {
        ErrorType::NotFound
    } else if text.contains("AccessDenied") || text.contains("Forbidden") {
        ErrorType::Auth
    } else if text.contains("SlowDown") || text.contains("Throttl") {
        ErrorType::Throttling
    } else {
        ErrorType::Service
    };
    EngineError::new(kind, format!("S3 {operation} of {key} failed: {text}"))
}

pub enum Sink {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    File {
        roots: Roots,
        folder: PathBuf,
    },
}

/// The S3 client: the server's configuration, the role assumed when given, path-style
/// addressing when a custom endpoint is set (S3-compatible servers).
async fn s3_client(role_arn: &str) -> aws_sdk_s3::Client {
    let sdk = match crate::engine::config::loaded() {
        Some(sdk) => sdk,
        None => {
            crate::engine::client().await;
            crate::engine::config::loaded().expect("loaded with the client")
        }
    };
    let role = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("healthimaging-mcp-export")
        .configure(&sdk)
        .build()
        .await;
    let custom = sdk.endpoint_url().is_some()
        || env::var("AWS_ENDPOINT_URL_S3").is_some()
        || env::var("AWS_ENDPOINT_URL").is_some();
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .credentials_provider(role)
        .force_path_style(custom)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl Sink {
    /// Opens the destination: the folder is created, the bucket must exist (a missing bucket
    /// fails the job at once with a clear message rather than every item).
    pub async fn open(dest: &Destination, role_arn: &str) -> EngineResult<Self> {
        match dest {
            Destination::File { path } => {
                let roots = Roots::from_env()?;
                let folder = roots.folder_for_writing(path)?;
                Ok(Self::File { roots, folder })
            }
            Destination::S3 { bucket, prefix } => {
                let client = s3_client(role_arn).await;
                client
                    .head_bucket()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(|e| {
                        let missing = e
                            .as_service_error()
                            .is_some_and(|s| s.is_not_found());
                        if missing {
                            EngineError::new(
                                ErrorType::NotFound,
                                format!("the bucket {bucket} does not exist (or is not visible with the data access role)"),
                            )
                        } else {
                            s3_error("HeadBucket", bucket, e)
                        }
                    })?;
                Ok(Self::S3 {
                    client,
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                })
            }
        }
    }

    fn parts(relative: &str) -> Vec<&str> {
        relative.split('/').collect()
    }

    fn local_path(folder: &std::path::Path, relative: &str) -> PathBuf {
        Self::parts(relative)
            .iter()
            .fold(folder.to_path_buf(), |p, part| p.join(part))
    }

    /// A temporary file beside `relative`'s place (renamed into place once complete, so a
    /// half-written instance never carries the final name), and that final path.
    fn temp_beside(
        roots: &Roots,
        folder: &std::path::Path,
        relative: &str,
    ) -> EngineResult<(PathBuf, std::fs::File, PathBuf)> {
        let parts = Self::parts(relative);
        let (name, dirs) = parts.split_last().expect("a file name");
        let temp_name = format!(".{name}.part");
        let mut temp_parts: Vec<&str> = dirs.to_vec();
        temp_parts.push(&temp_name);
        let (temp, file) = roots.create(folder, &temp_parts)?;
        let target = temp.with_file_name(name);
        Ok((temp, file, target))
    }

    /// Whether `relative` is already there with this SHA-256 (a resumed export skips it).
    pub async fn holds(&self, relative: &str, sha256: &str) -> bool {
        match self {
            Self::File { folder, .. } => {
                sha256_of(&Self::local_path(folder, relative))
                    .await
                    .as_deref()
                    == Some(sha256)
            }
            Self::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .head_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{relative}"))
                    .send()
                    .await
                    .ok()
                    .and_then(|h| h.metadata().and_then(|m| m.get("sha256").cloned()))
                    .as_deref()
                    == Some(sha256)
            }
        }
    }

    /// Exports one instance to `relative` (`study/series/sop.dcm`).
    pub async fn put_instance(
        &self,
        relative: &str,
        w: &Where,
        sop: &str,
        ts: Option<&str>,
    ) -> EngineResult<Written> {
        match self {
            Self::File { roots, folder } => {
                let (temp, file, target) = Self::temp_beside(roots, folder, relative)?;
                let result = fetch_into(w, sop, ts, tokio::fs::File::from_std(file)).await;
                let written = match result {
                    Ok(written) => written,
                    Err(e) => {
                        let _ = std::fs::remove_file(&temp);
                        return Err(e);
                    }
                };
                std::fs::rename(&temp, &target).map_err(|e| {
                    let _ = std::fs::remove_file(&temp);
                    io(&format!("moving the file into {}", target.display()), e)
                })?;
                Ok(written)
            }
            Self::S3 { .. } => {
                let spool = std::env::temp_dir().join(format!(
                    "healthimaging-mcp-export-{}.part",
                    hex::encode(rand::random::<[u8; 12]>())
                ));
                let result = async {
                    let file = tokio::fs::File::create(&spool)
                        .await
                        .map_err(|e| io("creating a spool file", e))?;
                    let written = fetch_into(w, sop, ts, file).await?;
                    self.upload(relative, &spool, &written).await?;
                    Ok(written)
                }
                .await;
                let _ = tokio::fs::remove_file(&spool).await;
                result
            }
        }
    }

    async fn upload(
        &self,
        relative: &str,
        spool: &std::path::Path,
        written: &Written,
    ) -> EngineResult<()> {
        let Self::S3 {
            client,
            bucket,
            prefix,
        } = self
        else {
            return Ok(());
        };
        let key = format!("{prefix}{relative}");
        if written.size <= PART_SIZE {
            let body = ByteStream::from_path(spool)
                .await
                .map_err(|e| io("reading the spool file", e))?;
            client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .content_type("application/dicom")
                .metadata("sha256", &written.sha256)
                .body(body)
                .send()
                .await
                .map_err(|e| s3_error("PutObject", &key, e))?;
            return Ok(());
        }
        let started = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(&key)
            .content_type("application/dicom")
            .metadata("sha256", &written.sha256)
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", &key, e))?;
        let upload_id = started.upload_id().unwrap_or_default().to_string();
        let parts = async {
            let mut done = Vec::new();
            let mut offset = 0u64;
            let mut number = 1i32;
            while offset < written.size {
                let length = PART_SIZE.min(written.size - offset);
                let body = ByteStream::read_from()
                    .path(spool)
                    .offset(offset)
                    .length(aws_smithy_types::byte_stream::Length::Exact(length))
                    .build()
                    .await
                    .map_err(|e| io("reading the spool file", e))?;
                let part = client
                    .upload_part()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| s3_error("UploadPart", &key, e))?;
                done.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .build(),
                );
                offset += length;
                number += 1;
            }
            client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s3_error("CompleteMultipartUpload", &key, e))?;
            Ok(())
        }
        .await;
        if parts.is_err() {
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        parts
    }

    /// Writes an instance held in memory (a de-identified one) to `relative`, as
    /// `put_instance` does: a temporary file renamed into place, or one PutObject with its
    /// SHA-256.
    pub async fn put_bytes(&self, relative: &str, body: Vec<u8>) -> EngineResult<Written> {
        self.put(relative, body, "application/dicom").await
    }

    /// Writes a small document (manifest, summary) to `relative`, replacing it whole (a
    /// reader never sees half a manifest).
    pub async fn put_document(
        &self,
        relative: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> EngineResult<()> {
        self.put(relative, body, content_type).await.map(|_| ())
    }

    async fn put(
        &self,
        relative: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> EngineResult<Written> {
        let written = Written {
            size: body.len() as u64,
            sha256: hex::encode(Sha256::digest(&body)),
        };
        match self {
            Self::File { roots, folder } => {
                use std::io::Write;
                let (temp, mut file, target) = Self::temp_beside(roots, folder, relative)?;
                file.write_all(&body)
                    .and_then(|_| file.sync_all())
                    .and_then(|_| std::fs::rename(&temp, &target))
                    .map_err(|e| {
                        let _ = std::fs::remove_file(&temp);
                        io(&format!("writing {}", target.display()), e)
                    })?;
            }
            Self::S3 {
                client,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{relative}");
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .content_type(content_type)
                    .metadata("sha256", &written.sha256)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| s3_error("PutObject", &key, e))?;
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_hasher_counts_and_hashes_what_passes_and_holds_compares_it() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots::new([dir.path().to_path_buf()]).unwrap();
        let folder = roots
            .folder_for_writing(dir.path().join("out").to_str().unwrap())
            .unwrap();
        let sink = Sink::File { roots, folder };
        sink.put_document(
            "1.2/3.4/5.6.dcm",
            b"DICM body".to_vec(),
            "application/dicom",
        )
        .await
        .unwrap();
        let mut out = Hashing {
            inner: Vec::new(),
            hash: Sha256::new(),
            bytes: 0,
        };
        out.write_all(b"DICM ").await.unwrap();
        out.write_all(b"body").await.unwrap();
        let sha = hex::encode(out.hash.clone().finalize());
        assert_eq!((out.bytes, out.inner.as_slice()), (9, &b"DICM body"[..]));
        assert_eq!(sha, hex::encode(Sha256::digest(b"DICM body")));
        // A resumed export skips a file only when its content is the one recorded.
        assert!(sink.holds("1.2/3.4/5.6.dcm", &sha).await);
        assert!(!sink.holds("1.2/3.4/5.6.dcm", &"0".repeat(64)).await);
        assert!(!sink.holds("1.2/3.4/7.8.dcm", &sha).await);
    }
}
