use healthimaging_mcp::local::LocalConfig;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn validation_and_not_found() {
    let env = start();
    let c = &env.client;
    let e = c
        .get_datastore()
        .datastore_id("NOT-AN-ID")
        .send()
        .await
        .unwrap_err();
    let (code, status) = err_of(&e);
    assert_eq!((code.as_str(), status), ("ValidationException", 400));
    assert!(format!("{:?}", e.as_service_error().unwrap()).contains("datastoreId"));

    let e = c
        .get_datastore()
        .datastore_id("0".repeat(32))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));

    let e = c
        .list_datastores()
        .max_results(51)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ValidationException".into(), 400));

    let ds = seeded(&env).await;
    let e = get_image_set(c, &ds, &"f".repeat(32), None)
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));
    let e = c
        .get_dicom_import_job()
        .datastore_id(&ds)
        .job_id("abc123")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));
    let any = all_image_sets(c, &ds).await[0].image_set_id().to_string();
    let e = get_image_set(c, &ds, &any, Some("99")).await.unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));
    let e = image_frame(c, &ds, &any, &"a".repeat(32))
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));

    // Import inputs: S3 URI and role ARN shapes.
    let e = c
        .start_dicom_import_job()
        .datastore_id(&ds)
        .data_access_role_arn("not-an-arn")
        .input_s3_uri("s3://in-bucket/x/")
        .output_s3_uri("s3://out-bucket/x/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e).1, 400);
    let e = c
        .start_dicom_import_job()
        .datastore_id(&ds)
        .data_access_role_arn(ROLE)
        .input_s3_uri("/local/path")
        .output_s3_uri("s3://out-bucket/x/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e).1, 400);
    // DICOMUpdates over 30000 bytes.
    let big = serde_json::json!({"Study": {"DICOM": {"StudyDescription": "x".repeat(30_001)}}});
    let e = update_metadata(
        c,
        &ds,
        &any,
        "1",
        aws_sdk_medicalimaging::types::MetadataUpdates::DicomUpdates(
            aws_sdk_medicalimaging::types::DicomUpdates::builder()
                .updatable_attributes(aws_sdk_medicalimaging::primitives::Blob::new(
                    big.to_string(),
                ))
                .build(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err_of(&e), ("ValidationException".into(), 400));
    // Tag keys may not start with aws:
    let arn = format!("arn:aws:medical-imaging:us-east-1:123456789012:datastore/{ds}");
    let e = c
        .tag_resource()
        .resource_arn(&arn)
        .tags("aws:x", "y")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e).1, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigv4_is_verified() {
    let env = start();
    let url = env.server.endpoint_url();
    let wrong_secret = client_for(&url, "test", "not-the-secret");
    let e = wrong_secret.list_datastores().send().await.unwrap_err();
    assert_eq!(err_of(&e), ("InvalidSignatureException".into(), 403));
    // Data-plane operations are checked too.
    let e = wrong_secret
        .search_image_sets()
        .datastore_id("0".repeat(32))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("InvalidSignatureException".into(), 403));
    let unknown_key = client_for(&url, "AKIDUNKNOWN", "test");
    let e = unknown_key.list_datastores().send().await.unwrap_err();
    assert_eq!(err_of(&e), ("UnrecognizedClientException".into(), 403));

    // No Authorization header at all.
    let resp = unsigned_get(&env, "/datastore");
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{resp}"
    );

    // Custom credentials replace the default pair.
    let custom = start_with(LocalConfig {
        credentials: vec![("AKIDLOCAL".into(), "s3cret".into())],
        ..Default::default()
    });
    let ok = client_for(&custom.server.endpoint_url(), "AKIDLOCAL", "s3cret");
    ok.list_datastores().send().await.unwrap();
    let e = client_for(&custom.server.endpoint_url(), "test", "test")
        .list_datastores()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e).1, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_can_be_injected() {
    let env = start_with(LocalConfig {
        throttle_rate: 1.0,
        ..Default::default()
    });
    let e = env.client.list_datastores().send().await.unwrap_err();
    assert_eq!(err_of(&e), ("ThrottlingException".into(), 429));
    // The SDK retried: more than one request reached the server.
    assert!(
        env.server
            .app
            .stats
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_are_404() {
    let env = start();
    let resp = unsigned_get(&env, "/nope");
    // Authentication comes first, as at AWS's front door.
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
}
