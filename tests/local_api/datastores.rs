use aws_sdk_medicalimaging::types::{DatastoreStatus, LosslessStorageFormat};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn datastore_lifecycle_paging_and_tags() {
    let env = start();
    let c = &env.client;
    let created = c
        .create_datastore()
        .datastore_name("first")
        .lossless_storage_format(LosslessStorageFormat::Jpeg2000Lossless)
        .tags("team", "imaging")
        .send()
        .await
        .unwrap();
    assert_eq!(created.datastore_status(), &DatastoreStatus::Creating);
    let id = created.datastore_id().to_string();
    assert_eq!(id.len(), 32);

    let props = c.get_datastore().datastore_id(&id).send().await.unwrap();
    let p = props.datastore_properties().unwrap();
    assert_eq!(p.datastore_status(), &DatastoreStatus::Active);
    assert_eq!(p.datastore_name(), "first");
    assert_eq!(
        p.lossless_storage_format(),
        Some(&LosslessStorageFormat::Jpeg2000Lossless)
    );
    let arn = p.datastore_arn().unwrap().to_string();
    assert_eq!(
        arn,
        format!("arn:aws:medical-imaging:us-east-1:123456789012:datastore/{id}")
    );
    assert!(p.created_at().is_some());

    for n in 0..4 {
        create_datastore(c, &format!("more-{n}")).await;
    }
    // Paginator with pages of 2 sees all 5, each once.
    let all: Vec<_> = c
        .list_datastores()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let mut ids: Vec<_> = all.iter().map(|d| d.datastore_id().to_string()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let first_page = c.list_datastores().max_results(2).send().await.unwrap();
    assert_eq!(first_page.datastore_summaries().len(), 2);
    assert!(first_page.next_token().is_some());

    // Tags: from creation, added, removed.
    let tags = list_tags(c, &arn).await.unwrap();
    assert_eq!(tags.tags().get("team").map(String::as_str), Some("imaging"));
    c.tag_resource()
        .resource_arn(&arn)
        .tags("env", "ci")
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = list_tags(c, &arn).await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags().get("env").map(String::as_str), Some("ci"));

    // Delete: DELETING, then DELETED; gone from the ACTIVE list.
    let del = c.delete_datastore().datastore_id(&id).send().await.unwrap();
    assert_eq!(del.datastore_status(), &DatastoreStatus::Deleting);
    let after = c.get_datastore().datastore_id(&id).send().await.unwrap();
    assert_eq!(
        after.datastore_properties().unwrap().datastore_status(),
        &DatastoreStatus::Deleted
    );
    let active = c
        .list_datastores()
        .datastore_status(DatastoreStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(active.datastore_summaries().len(), 4);
    assert!(active
        .datastore_summaries()
        .iter()
        .all(|d| d.datastore_id() != id));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_is_idempotent_on_client_token() {
    let env = start();
    let create = || {
        env.client
            .create_datastore()
            .datastore_name("x")
            .client_token("tok-1")
            .send()
    };
    let a = create().await.unwrap();
    let b = create().await.unwrap();
    assert_eq!(a.datastore_id(), b.datastore_id());
    let all = env.client.list_datastores().send().await.unwrap();
    assert_eq!(all.datastore_summaries().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn datastore_with_image_sets_cannot_be_deleted() {
    let env = start();
    let ds = seeded(&env).await;
    let e = env
        .client
        .delete_datastore()
        .datastore_id(&ds)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ConflictException".into(), 409));
    // Still ACTIVE and intact.
    let p = env
        .client
        .get_datastore()
        .datastore_id(&ds)
        .send()
        .await
        .unwrap();
    assert_eq!(
        p.datastore_properties().unwrap().datastore_status(),
        &DatastoreStatus::Active
    );
    assert_eq!(all_image_sets(&env.client, &ds).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_state_is_observable_with_a_transition_delay() {
    let env = start_with(healthimaging_mcp::local::LocalConfig {
        transition_delay: 0.3,
        ..Default::default()
    });
    let id = create_datastore(&env.client, "slow").await;
    assert_eq!(
        datastore_status(&env.client, &id).await,
        DatastoreStatus::Creating
    );
    // Imports need ACTIVE.
    let e = env
        .client
        .start_dicom_import_job()
        .datastore_id(&id)
        .data_access_role_arn(ROLE)
        .input_s3_uri("s3://in-bucket/x/")
        .output_s3_uri("s3://out-bucket/x/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ConflictException".into(), 409));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        datastore_status(&env.client, &id).await,
        DatastoreStatus::Active
    );
}
