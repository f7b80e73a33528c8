//! Shared set-up: a server with a temporary S3 stand-in, an SDK client pointed at it, and
//! helpers to import the bundled samples.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_medicalimaging::config::{Credentials, Region};
use aws_sdk_medicalimaging::error::ProvideErrorMetadata;
use aws_sdk_medicalimaging::error::SdkError;
use aws_sdk_medicalimaging::operation::get_image_frame::{GetImageFrameError, GetImageFrameOutput};
use aws_sdk_medicalimaging::operation::get_image_set::{GetImageSetError, GetImageSetOutput};
use aws_sdk_medicalimaging::operation::list_tags_for_resource::{
    ListTagsForResourceError, ListTagsForResourceOutput,
};
use aws_sdk_medicalimaging::operation::update_image_set_metadata::{
    UpdateImageSetMetadataError, UpdateImageSetMetadataOutput,
};
use aws_sdk_medicalimaging::types::{
    DatastoreStatus, DicomImportJobProperties, ImageFrameInformation, ImageSetsMetadataSummary,
    JobStatus, MetadataUpdates, SearchCriteria,
};
use aws_sdk_medicalimaging::Client;
use healthimaging_mcp::local::{LocalConfig, LocalServer};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/ImportRole";

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/awslabs/healthimaging_mcp_server/samples")
}

pub fn manifest() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(samples_dir().join("manifest.json")).unwrap()).unwrap()
}

pub struct Env {
    pub server: LocalServer,
    pub client: Client,
    pub s3: tempfile::TempDir,
}

pub fn client_for(endpoint: &str, key: &str, secret: &str) -> Client {
    let conf = aws_sdk_medicalimaging::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(endpoint)
        .interceptor(healthimaging_mcp::engine::config::NoHostPrefix)
        .retry_config(
            aws_sdk_medicalimaging::config::retry::RetryConfig::standard().with_max_attempts(2),
        )
        .build();
    Client::from_conf(conf)
}

pub fn start_with(mut config: LocalConfig) -> Env {
    let s3 = tempfile::tempdir().unwrap();
    config.s3_root = Some(s3.path().to_path_buf());
    let server = LocalServer::start(config).unwrap();
    let client = client_for(&server.endpoint_url(), "test", "test");
    Env { server, client, s3 }
}

pub fn start() -> Env {
    start_with(LocalConfig::default())
}

/// Copies the sample DICOM tree into `s3://<bucket>/<prefix>`.
pub fn stage_samples(env: &Env, bucket: &str, prefix: &str) {
    let dest = env.s3.path().join(bucket).join(prefix);
    copy_tree(&samples_dir().join("dicom"), &dest);
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

pub async fn create_datastore(client: &Client, name: &str) -> String {
    let out = client
        .create_datastore()
        .datastore_name(name)
        .send()
        .await
        .unwrap();
    out.datastore_id().to_string()
}

/// Starts an import job and waits for it to end; returns (job id, final status).
pub async fn import(client: &Client, ds: &str, input: &str, output: &str) -> (String, JobStatus) {
    let job = client
        .start_dicom_import_job()
        .datastore_id(ds)
        .data_access_role_arn(ROLE)
        .input_s3_uri(input)
        .output_s3_uri(output)
        .send()
        .await
        .unwrap();
    assert_eq!(job.job_status(), &JobStatus::Submitted);
    let job_id = job.job_id().to_string();
    for _ in 0..600 {
        let props = client
            .get_dicom_import_job()
            .datastore_id(ds)
            .job_id(&job_id)
            .send()
            .await
            .unwrap();
        let status = props.job_properties().unwrap().job_status().clone();
        if matches!(status, JobStatus::Completed | JobStatus::Failed) {
            return (job_id, status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import job {job_id} did not finish");
}

/// A data store with the samples imported; returns its id.
pub async fn seeded(env: &Env) -> String {
    stage_samples(env, "input-bucket", "samples/");
    let ds = create_datastore(&env.client, "samples").await;
    let (_, status) = import(
        &env.client,
        &ds,
        "s3://input-bucket/samples/",
        "s3://output-bucket/out/",
    )
    .await;
    assert_eq!(status, JobStatus::Completed);
    ds
}

/// (error code, HTTP status) of a failed call.
pub fn err_of<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> (String, u16) {
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{e:?}"));
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (code, status)
}

pub async fn metadata(
    client: &Client,
    ds: &str,
    is: &str,
    version: Option<&str>,
) -> serde_json::Value {
    let out = client
        .get_image_set_metadata()
        .datastore_id(ds)
        .image_set_id(is)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_encoding(), Some("gzip"));
    let gz = out
        .image_set_metadata_blob
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut json).unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// All image set summaries of a data store (every page).
pub async fn all_image_sets(client: &Client, ds: &str) -> Vec<ImageSetsMetadataSummary> {
    search_all(client, ds, None, 2).await
}

/// Every result of a search, read through the paginator in pages of `page_size`.
pub async fn search_all(
    client: &Client,
    ds: &str,
    criteria: Option<SearchCriteria>,
    page_size: i32,
) -> Vec<ImageSetsMetadataSummary> {
    client
        .search_image_sets()
        .datastore_id(ds)
        .set_search_criteria(criteria)
        .max_results(page_size)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
}

/// The status GetDatastore reports.
pub async fn datastore_status(client: &Client, id: &str) -> DatastoreStatus {
    let p = client
        .get_datastore()
        .datastore_id(id)
        .send()
        .await
        .unwrap();
    p.datastore_properties().unwrap().datastore_status().clone()
}

/// GetDICOMImportJob's properties of a job.
pub async fn job_properties(client: &Client, ds: &str, job_id: &str) -> DicomImportJobProperties {
    let out = client
        .get_dicom_import_job()
        .datastore_id(ds)
        .job_id(job_id)
        .send()
        .await
        .unwrap();
    out.job_properties().unwrap().clone()
}

/// Where a job's output lands in the S3 stand-in: `<bucket and prefix>/<ds>-DicomImport-<job>`.
pub fn job_output_dir(env: &Env, output: &str, ds: &str, job_id: &str) -> PathBuf {
    env.s3
        .path()
        .join(output)
        .join(format!("{ds}-DicomImport-{job_id}"))
}

/// Sends `request` as is on a new connection and reads the whole answer (the request should
/// say `connection: close`).
pub fn exchange(env: &Env, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let host = env
        .server
        .endpoint_url()
        .trim_start_matches("http://")
        .to_string();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.write_all(request).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    String::from_utf8_lossy(&resp).into_owned()
}

/// An unsigned GET of `path`: the whole answer.
pub fn unsigned_get(env: &Env, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    exchange(env, request.as_bytes())
}

/// A raw answer of the server: status, `__type` of an error body (empty on success), message.
pub struct Raw {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Sends one SigV4-signed request exactly as given (any JSON, even what the SDK could never
/// send), over a plain socket, and reads the answer.
pub fn raw_request(env: &Env, method: &str, path_and_query: &str, body: &str) -> Raw {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};

    let host = env
        .server
        .endpoint_url()
        .trim_start_matches("http://")
        .to_string();
    let identity = aws_credential_types::Credentials::new("test", "test", None, None, "raw").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("medical-imaging")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        method,
        format!("http://{host}{path_and_query}"),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let text = exchange(env, &[head.as_bytes(), body.as_bytes()].concat());
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // Small answers only: no chunked bodies expected for JSON errors and short outputs.
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    Raw {
        status,
        code: json["__type"].as_str().unwrap_or_default().to_string(),
        message: json["message"].as_str().unwrap_or_default().to_string(),
    }
}

type Sdk<E> = SdkError<E, aws_smithy_runtime_api::http::Response>;

/// GetImageFrame of one frame.
pub async fn image_frame(
    client: &Client,
    ds: &str,
    is: &str,
    frame_id: &str,
) -> Result<GetImageFrameOutput, Sdk<GetImageFrameError>> {
    let frame = ImageFrameInformation::builder()
        .image_frame_id(frame_id)
        .build()
        .unwrap();
    client
        .get_image_frame()
        .datastore_id(ds)
        .image_set_id(is)
        .image_frame_information(frame)
        .send()
        .await
}

/// ListTagsForResource.
pub async fn list_tags(
    client: &Client,
    arn: &str,
) -> Result<ListTagsForResourceOutput, Sdk<ListTagsForResourceError>> {
    client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
}

/// GetImageSet of the latest version, or of `version`.
pub async fn get_image_set(
    client: &Client,
    ds: &str,
    is: &str,
    version: Option<&str>,
) -> Result<GetImageSetOutput, Sdk<GetImageSetError>> {
    client
        .get_image_set()
        .datastore_id(ds)
        .image_set_id(is)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
}

/// UpdateImageSetMetadata of image set `is`, from its version `latest`.
pub async fn update_metadata(
    client: &Client,
    ds: &str,
    is: &str,
    latest: &str,
    change: MetadataUpdates,
) -> Result<UpdateImageSetMetadataOutput, Sdk<UpdateImageSetMetadataError>> {
    client
        .update_image_set_metadata()
        .datastore_id(ds)
        .image_set_id(is)
        .latest_version_id(latest)
        .update_image_set_metadata_updates(change)
        .send()
        .await
}
