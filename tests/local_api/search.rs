use aws_sdk_medicalimaging::primitives::DateTime;
use aws_sdk_medicalimaging::types::{
    DicomStudyDateAndTime, Operator, SearchByAttributeValue as V, SearchCriteria, SearchFilter,
    Sort, SortField, SortOrder,
};

use crate::common::*;

fn eq(v: V) -> SearchFilter {
    SearchFilter::builder()
        .operator(Operator::Equal)
        .values(v)
        .build()
        .unwrap()
}

fn between(a: V, b: V) -> SearchFilter {
    SearchFilter::builder()
        .operator(Operator::Between)
        .values(a)
        .values(b)
        .build()
        .unwrap()
}

fn sort(field: SortField, order: SortOrder) -> Sort {
    Sort::builder()
        .sort_field(field)
        .sort_order(order)
        .build()
        .unwrap()
}

async fn search(
    env: &Env,
    ds: &str,
    criteria: SearchCriteria,
) -> Vec<aws_sdk_medicalimaging::types::ImageSetsMetadataSummary> {
    search_all(&env.client, ds, Some(criteria), 1).await
}

/// The image sets whose attribute equals the value.
async fn search_eq(
    env: &Env,
    ds: &str,
    value: V,
) -> Vec<aws_sdk_medicalimaging::types::ImageSetsMetadataSummary> {
    search(
        env,
        ds,
        SearchCriteria::builder().filters(eq(value)).build(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filter_attribute_and_sort() {
    let env = start();
    let ds = seeded(&env).await;
    let m = manifest();
    let f0 = &m["files"][0];

    let by_patient = search_eq(&env, &ds, V::DicomPatientId("HI-PAT-A".into())).await;
    assert_eq!(by_patient.len(), 2);
    assert!(by_patient
        .iter()
        .all(|s| s.dicom_tags().unwrap().dicom_patient_name() == Some("DOE^JANE")));

    let by_acc = search_eq(&env, &ds, V::DicomAccessionNumber("ACC-B1".into())).await;
    assert_eq!(by_acc.len(), 2, "study B1 has two series");
    let by_study_id = search_eq(&env, &ds, V::DicomStudyId("A2".into())).await;
    assert_eq!(by_study_id.len(), 1);
    assert_eq!(
        by_study_id[0].dicom_tags().unwrap().dicom_series_modality(),
        Some("MR")
    );

    let study_uid = f0["study_instance_uid"].as_str().unwrap();
    let by_study = search_eq(&env, &ds, V::DicomStudyInstanceUid(study_uid.into())).await;
    assert_eq!(by_study.len(), 1);
    let tags = by_study[0].dicom_tags().unwrap();
    assert_eq!(tags.dicom_number_of_study_related_instances(), 5);
    assert_eq!(tags.dicom_study_date(), Some("20240105"));
    assert_eq!(tags.dicom_series_body_part(), Some("CHEST"));
    assert_eq!(tags.dicom_series_number(), Some(1));

    let series_uid = f0["series_instance_uid"].as_str().unwrap();
    let by_series = search_eq(&env, &ds, V::DicomSeriesInstanceUid(series_uid.into())).await;
    assert_eq!(by_series.len(), 1);
    assert_eq!(by_series[0].image_set_id(), by_study[0].image_set_id());

    // Study date range 2024: studies A1 and A2 (not B1 from 2023), ascending by study date.
    let range = SearchCriteria::builder()
        .filters(between(
            V::DicomStudyDateAndTime(
                DicomStudyDateAndTime::builder()
                    .dicom_study_date("20240101")
                    .build()
                    .unwrap(),
            ),
            V::DicomStudyDateAndTime(
                DicomStudyDateAndTime::builder()
                    .dicom_study_date("20241231")
                    .dicom_study_time("235959")
                    .build()
                    .unwrap(),
            ),
        ))
        .sort(sort(SortField::DicomStudyDateAndTime, SortOrder::Asc))
        .build();
    let in_2024 = search(&env, &ds, range).await;
    let dates: Vec<_> = in_2024
        .iter()
        .map(|s| {
            s.dicom_tags()
                .unwrap()
                .dicom_study_date()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(dates, vec!["20240105", "20240310"]);

    // createdAt window around now matches all; one in the past matches none.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let all = search(
        &env,
        &ds,
        SearchCriteria::builder()
            .filters(between(
                V::CreatedAt(DateTime::from_secs(now - 600)),
                V::CreatedAt(DateTime::from_secs(now + 600)),
            ))
            .build(),
    )
    .await;
    assert_eq!(all.len(), 4);
    let none = search(
        &env,
        &ds,
        SearchCriteria::builder()
            .filters(between(
                V::UpdatedAt(DateTime::from_secs(0)),
                V::UpdatedAt(DateTime::from_secs(1000)),
            ))
            .build(),
    )
    .await;
    assert!(none.is_empty());

    // Two filters AND together.
    let both = search(
        &env,
        &ds,
        SearchCriteria::builder()
            .filters(eq(V::DicomPatientId("HI-PAT-B".into())))
            .filters(eq(V::IsPrimary(true)))
            .build(),
    )
    .await;
    assert_eq!(both.len(), 2);
    let non_primary = search_eq(&env, &ds, V::IsPrimary(false)).await;
    assert!(non_primary.is_empty());

    // Sorted by createdAt ascending: non-decreasing.
    let sorted = search(
        &env,
        &ds,
        SearchCriteria::builder()
            .sort(sort(SortField::CreatedAt, SortOrder::Asc))
            .build(),
    )
    .await;
    assert_eq!(sorted.len(), 4);
    assert!(sorted
        .windows(2)
        .all(|w| w[0].created_at() <= w[1].created_at()));
    // The applied sort is echoed.
    let page = env
        .client
        .search_image_sets()
        .datastore_id(&ds)
        .send()
        .await
        .unwrap();
    assert_eq!(page.sort().unwrap().sort_field(), &SortField::UpdatedAt);
    assert_eq!(page.sort().unwrap().sort_order(), &SortOrder::Desc);
    assert!(page.next_token().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_criteria_are_validation_errors() {
    let env = start();
    let ds = seeded(&env).await;
    let refused = |criteria: SearchCriteria| {
        env.client
            .search_image_sets()
            .datastore_id(&ds)
            .search_criteria(criteria)
            .send()
    };
    // BETWEEN on a patient ID is not allowed.
    let patients = between(V::DicomPatientId("a".into()), V::DicomPatientId("b".into()));
    let e = refused(SearchCriteria::builder().filters(patients).build())
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ValidationException".into(), 400));
    // Three filters are too many.
    let f = || eq(V::IsPrimary(true));
    let three = SearchCriteria::builder()
        .filters(f())
        .filters(f())
        .filters(f())
        .build();
    let e = refused(three).await.unwrap_err();
    assert_eq!(err_of(&e).1, 400);
    // A token from another query is refused.
    let page = env
        .client
        .search_image_sets()
        .datastore_id(&ds)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let token = page.next_token().unwrap();
    let e = env
        .client
        .search_image_sets()
        .datastore_id(&ds)
        .max_results(1)
        .next_token(token)
        .search_criteria(SearchCriteria::builder().filters(f()).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&e), ("ValidationException".into(), 400));
}
