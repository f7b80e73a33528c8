use healthimaging_mcp::local::{LocalConfig, LocalServer};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn state_and_frames_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let config = || LocalConfig {
        data_dir: Some(data.path().to_path_buf()),
        ..Default::default()
    };
    let mut first = LocalServer::start(config()).unwrap();
    let report =
        healthimaging_mcp::local::seed::seed(&first.app, &samples_dir().join("dicom")).unwrap();
    assert_eq!(report.image_sets, 4);
    let c = client_for(&first.endpoint_url(), "test", "test");
    let sets = all_image_sets(&c, &report.datastore_id).await;
    let is = sets[0].image_set_id().to_string();
    let before = metadata(&c, &report.datastore_id, &is, None).await;
    tokio::task::spawn_blocking(move || first.stop())
        .await
        .unwrap();

    let second = LocalServer::start(config()).unwrap();
    let c = client_for(&second.endpoint_url(), "test", "test");
    assert_eq!(all_image_sets(&c, &report.datastore_id).await.len(), 4);
    let after = metadata(&c, &report.datastore_id, &is, None).await;
    assert_eq!(before, after);
    // A frame written by the first server is served by the second.
    let series = after["Study"]["Series"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let inst = series["Instances"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let frame_id = inst["ImageFrames"][0]["ID"].as_str().unwrap();
    let frame = image_frame(&c, &report.datastore_id, &is, frame_id)
        .await
        .unwrap();
    let bytes = frame.image_frame_blob.collect().await.unwrap().into_bytes();
    assert_eq!(
        bytes.len() as u64,
        inst["ImageFrames"][0]["FrameSizeInBytes"].as_u64().unwrap()
    );
    // Seeding again reuses the data store.
    let again =
        healthimaging_mcp::local::seed::seed(&second.app, &samples_dir().join("dicom")).unwrap();
    assert_eq!(again.datastore_id, report.datastore_id);
    assert!(again.job_id.is_none());
}
