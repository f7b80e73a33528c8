use aws_sdk_medicalimaging::primitives::Blob;
use aws_sdk_medicalimaging::types::{
    CopyDestinationImageSet, CopyImageSetInformation, CopySourceImageSetInformation, DicomUpdates,
    ImageSetState, ImageSetWorkflowStatus, MetadataCopies, MetadataUpdates,
};
use serde_json::json;

use crate::common::*;

async fn set_of_patient(env: &Env, ds: &str, patient: &str, modality: &str) -> String {
    all_image_sets(&env.client, ds)
        .await
        .into_iter()
        .find(|s| {
            let t = s.dicom_tags().unwrap();
            t.dicom_patient_id() == Some(patient) && t.dicom_series_modality() == Some(modality)
        })
        .unwrap()
        .image_set_id()
        .to_string()
}

/// The first series of a metadata document and its SOP Instance UIDs.
fn first_series(meta: &serde_json::Value) -> (String, Vec<String>) {
    let (uid, series) = meta["Study"]["Series"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let sops = series["Instances"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    (uid.clone(), sops)
}

fn updates(doc: serde_json::Value) -> MetadataUpdates {
    MetadataUpdates::DicomUpdates(
        DicomUpdates::builder()
            .updatable_attributes(Blob::new(doc.to_string()))
            .build(),
    )
}

fn removals(doc: serde_json::Value) -> MetadataUpdates {
    MetadataUpdates::DicomUpdates(
        DicomUpdates::builder()
            .removable_attributes(Blob::new(doc.to_string()))
            .build(),
    )
}

/// CopyImageSetInformation from version 1 of the source (its `copiable` attributes, or all of
/// it) into a new image set, or `into` (image set, latest version) an existing one.
fn copy_info(
    copiable: Option<&serde_json::Value>,
    into: Option<(&str, &str)>,
) -> CopyImageSetInformation {
    let copies = copiable.map(|c| {
        MetadataCopies::builder()
            .copiable_attributes(c.to_string())
            .build()
            .unwrap()
    });
    let source = CopySourceImageSetInformation::builder()
        .latest_version_id("1")
        .set_dicom_copies(copies)
        .build()
        .unwrap();
    let destination = into.map(|(id, latest)| {
        CopyDestinationImageSet::builder()
            .image_set_id(id)
            .latest_version_id(latest)
            .build()
            .unwrap()
    });
    CopyImageSetInformation::builder()
        .source_image_set(source)
        .set_destination_image_set(destination)
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn update_versions_conflict_and_revert() {
    let env = start();
    let ds = seeded(&env).await;
    let c = &env.client;
    let is = set_of_patient(&env, &ds, "HI-PAT-A", "CT").await;
    let (ds_id, is_id) = (ds.as_str(), is.as_str());
    let update = move |latest, change| update_metadata(c, ds_id, is_id, latest, change);

    let out = update(
        "1",
        updates(json!({
            "SchemaVersion": "1.1",
            "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}},
            "Study": {"DICOM": {"StudyDescription": "CT CHEST W/O"}}
        })),
    )
    .await
    .unwrap();
    assert_eq!(out.latest_version_id(), "2");
    assert_eq!(out.image_set_state(), &ImageSetState::Locked);
    assert_eq!(
        out.image_set_workflow_status(),
        Some(&ImageSetWorkflowStatus::Updating)
    );

    let meta = metadata(c, &ds, &is, None).await;
    assert_eq!(meta["Patient"]["DICOM"]["PatientName"], "DOE^JOHN");
    assert_eq!(meta["Study"]["DICOM"]["StudyDescription"], "CT CHEST W/O");
    let v1 = metadata(c, &ds, &is, Some("1")).await;
    assert_eq!(v1["Patient"]["DICOM"]["PatientName"], "DOE^JANE");

    let got = get_image_set(c, &ds, &is, None).await.unwrap();
    assert_eq!(got.version_id(), "2");
    assert_eq!(got.image_set_state(), &ImageSetState::Active);
    assert_eq!(
        got.image_set_workflow_status(),
        Some(&ImageSetWorkflowStatus::Updated)
    );
    assert_eq!(got.is_primary(), Some(true));
    let old = get_image_set(c, &ds, &is, Some("1")).await.unwrap();
    assert_eq!(old.version_id(), "1");

    // Stale latestVersionId: conflict, nothing written.
    let e = update(
        "1",
        updates(json!({"Patient": {"DICOM": {"PatientName": "X^Y"}}})),
    )
    .await
    .unwrap_err();
    assert_eq!(err_of(&e), ("ConflictException".into(), 409));
    assert_eq!(
        metadata(c, &ds, &is, None).await["Patient"]["DICOM"]["PatientName"],
        "DOE^JOHN"
    );

    // A UID change needs force.
    let e = update(
        "2",
        updates(json!({"Study": {"DICOM": {"StudyInstanceUID": "1.2.3"}}})),
    )
    .await
    .unwrap_err();
    assert_eq!(err_of(&e), ("ValidationException".into(), 400));

    // Revert to version 1 makes version 3 equal to version 1.
    let out = update("2", MetadataUpdates::RevertToVersionId("1".into()))
        .await
        .unwrap();
    assert_eq!(out.latest_version_id(), "3");
    assert_eq!(
        metadata(c, &ds, &is, None).await["Patient"]["DICOM"]["PatientName"],
        "DOE^JANE"
    );

    // Version history through the paginator, newest first.
    let versions: Vec<_> = c
        .list_image_set_versions()
        .datastore_id(&ds)
        .image_set_id(&is)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let ids: Vec<&str> = versions.iter().map(|v| v.version_id()).collect();
    assert_eq!(ids, vec!["3", "2", "1"]);
    assert_eq!(
        versions[2].image_set_workflow_status(),
        Some(&ImageSetWorkflowStatus::Imported)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_instance_and_series_level_by_level() {
    let env = start();
    let ds = seeded(&env).await;
    let c = &env.client;
    let is = set_of_patient(&env, &ds, "HI-PAT-A", "CT").await;
    let (ds_id, is_id) = (ds.as_str(), is.as_str());
    let update = move |latest, change| update_metadata(c, ds_id, is_id, latest, change);
    let meta = metadata(c, &ds, &is, None).await;
    let (series_uid, sops) = first_series(&meta);
    let series_uid = series_uid.as_str();
    assert_eq!(sops.len(), 5);

    update(
        "1",
        removals(json!({
            "SchemaVersion": "1.1",
            "Study": {"Series": {series_uid: {"Instances": {&sops[0]: {}}}}}
        })),
    )
    .await
    .unwrap();
    let meta = metadata(c, &ds, &is, None).await;
    let left = meta["Study"]["Series"][series_uid]["Instances"]
        .as_object()
        .unwrap();
    assert_eq!(left.len(), 4);
    assert!(!left.contains_key(&sops[0]));

    // Removing an attribute with the wrong current value is refused.
    let e = update(
        "2",
        removals(json!({"Study": {"DICOM": {"StudyDescription": "NOT IT"}}})),
    )
    .await
    .unwrap_err();
    assert_eq!(err_of(&e).1, 400);

    update(
        "2",
        removals(json!({"Study": {"Series": {series_uid: {}}}})),
    )
    .await
    .unwrap();
    let meta = metadata(c, &ds, &is, None).await;
    assert!(meta["Study"]["Series"].as_object().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_into_new_and_existing_image_sets_then_delete() {
    let env = start();
    let ds = seeded(&env).await;
    let c = &env.client;
    let src = set_of_patient(&env, &ds, "HI-PAT-A", "CT").await;
    let meta = metadata(c, &ds, &src, None).await;
    let (series_uid, sops) = first_series(&meta);
    let series_uid = series_uid.as_str();

    // Two instances into a new image set.
    let copiable = json!({"SchemaVersion": "1.1", "Study": {"Series": {series_uid: {"Instances": {&sops[0]: {}, &sops[1]: {}}}}}});
    let copy = |info| {
        c.copy_image_set()
            .datastore_id(&ds)
            .source_image_set_id(&src)
            .copy_image_set_information(info)
            .send()
    };
    let out = copy(copy_info(Some(&copiable), None)).await.unwrap();
    let dest = out.destination_image_set_properties().unwrap();
    let new_id = dest.image_set_id().to_string();
    assert_ne!(new_id, src);
    assert_eq!(dest.latest_version_id(), "1");
    assert_eq!(
        out.source_image_set_properties()
            .unwrap()
            .latest_version_id(),
        "1"
    );
    let copied = metadata(c, &ds, &new_id, None).await;
    assert_eq!(copied["ImageSetID"], new_id.as_str());
    assert_eq!(
        copied["Study"]["Series"][series_uid]["Instances"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    let copy_props = get_image_set(c, &ds, &new_id, None).await.unwrap();
    assert_eq!(copy_props.is_primary(), Some(false));

    // Frames of the copy are served too.
    let frame_id = copied["Study"]["Series"][series_uid]["Instances"][&sops[0]]["ImageFrames"][0]
        ["ID"]
        .as_str()
        .unwrap();
    let frame = image_frame(c, &ds, &new_id, frame_id).await.unwrap();
    assert_eq!(
        frame
            .image_frame_blob
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .len(),
        128 * 128 * 2
    );

    // A third instance into the existing copy: version 2 with 3 instances.
    let third = json!({"SchemaVersion": "1.1", "Study": {"Series": {series_uid: {"Instances": {&sops[2]: {}}}}}});
    let info = |dest_version| copy_info(Some(&third), Some((&new_id, dest_version)));
    let out = copy(info("1")).await.unwrap();
    assert_eq!(
        out.destination_image_set_properties()
            .unwrap()
            .latest_version_id(),
        "2"
    );
    let merged = metadata(c, &ds, &new_id, None).await;
    assert_eq!(
        merged["Study"]["Series"][series_uid]["Instances"]
            .as_object()
            .unwrap()
            .len(),
        3
    );

    // Stale destination version: conflict.
    let e = copy(info("1")).await.unwrap_err();
    assert_eq!(err_of(&e), ("ConflictException".into(), 409));

    // Copying a CT of patient A into patient B's image set needs force.
    let other = set_of_patient(&env, &ds, "HI-PAT-B", "MR").await;
    let e = copy(copy_info(None, Some((&other, "1"))))
        .await
        .unwrap_err();
    assert_eq!(err_of(&e).1, 409);

    // Delete the copy: the response is in flight, afterwards it is gone.
    let del = c
        .delete_image_set()
        .datastore_id(&ds)
        .image_set_id(&new_id)
        .send()
        .await
        .unwrap();
    assert_eq!(del.image_set_state(), &ImageSetState::Locked);
    assert_eq!(
        del.image_set_workflow_status(),
        &ImageSetWorkflowStatus::Deleting
    );
    let e = get_image_set(c, &ds, &new_id, None).await.unwrap_err();
    assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), 404));
    assert!(all_image_sets(c, &ds)
        .await
        .iter()
        .all(|s| s.image_set_id() != new_id));
    // The source is untouched.
    assert_eq!(metadata(c, &ds, &src, None).await, meta);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_set_tags() {
    let env = start();
    let ds = seeded(&env).await;
    let is = set_of_patient(&env, &ds, "HI-PAT-B", "MR").await;
    let arn = get_image_set(&env.client, &ds, &is, None)
        .await
        .unwrap()
        .image_set_arn()
        .unwrap()
        .to_string();
    assert!(arn.ends_with(&format!("datastore/{ds}/imageset/{is}")));
    env.client
        .tag_resource()
        .resource_arn(&arn)
        .tags("study", "knee")
        .send()
        .await
        .unwrap();
    let tags = list_tags(&env.client, &arn).await.unwrap();
    assert_eq!(tags.tags().get("study").map(String::as_str), Some("knee"));
    let missing = arn.replace(&is, &"0".repeat(32));
    let e = list_tags(&env.client, &missing).await.unwrap_err();
    assert_eq!(err_of(&e).1, 404);
}
