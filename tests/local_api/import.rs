use std::collections::HashMap;

use aws_sdk_medicalimaging::types::{
    JobStatus, Operator, SearchByAttributeValue, SearchCriteria, SearchFilter,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;

fn frame_content_type(ts: &str) -> &'static str {
    match ts {
        "1.2.840.10008.1.2.4.202" => "image/jph",
        "1.2.840.10008.1.2.4.90" => "image/j2c",
        _ => "application/octet-stream",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn samples_import_into_one_primary_image_set_per_series_with_exact_frames() {
    let env = start();
    let ds = seeded(&env).await;
    let c = &env.client;
    let manifest = manifest();
    let files = manifest["files"].as_array().unwrap();

    let sets = all_image_sets(c, &ds).await;
    let series: std::collections::BTreeSet<&str> = files
        .iter()
        .map(|f| f["series_instance_uid"].as_str().unwrap())
        .collect();
    assert_eq!(sets.len(), series.len(), "one image set per series");
    assert!(sets
        .iter()
        .all(|s| s.is_primary() == Some(true) && s.version() == Some(1)));

    // Every instance of the manifest is in the metadata with its attributes and frames.
    let mut seen = 0;
    for set in &sets {
        let meta = metadata(c, &ds, set.image_set_id(), None).await;
        assert_eq!(meta["SchemaVersion"], "1.1");
        assert_eq!(meta["DatastoreID"], ds.as_str());
        assert_eq!(meta["ImageSetID"], set.image_set_id());
        let tags = set.dicom_tags().unwrap();
        assert_eq!(
            meta["Patient"]["DICOM"]["PatientID"].as_str(),
            tags.dicom_patient_id()
        );
        for (series_uid, s) in meta["Study"]["Series"].as_object().unwrap() {
            assert_eq!(s["DICOM"]["SeriesInstanceUID"], series_uid.as_str());
            for (sop, inst) in s["Instances"].as_object().unwrap() {
                let f = files
                    .iter()
                    .find(|f| f["sop_instance_uid"] == sop.as_str())
                    .expect("instance from the manifest");
                seen += 1;
                assert_eq!(meta["Patient"]["DICOM"]["PatientName"], f["patient_name"]);
                assert_eq!(
                    meta["Study"]["DICOM"]["StudyInstanceUID"],
                    f["study_instance_uid"]
                );
                assert_eq!(
                    meta["Study"]["DICOM"]["AccessionNumber"],
                    f["accession_number"]
                );
                assert_eq!(s["DICOM"]["Modality"], f["modality"]);
                assert_eq!(inst["DICOM"]["SOPClassUID"], f["sop_class_uid"]);
                // VR-correct values: US as numbers, IS as strings.
                assert_eq!(inst["DICOM"]["Rows"], f["rows"]);
                assert_eq!(inst["DICOM"]["Columns"], f["columns"]);
                assert!(inst["DICOM"].get("PixelData").is_none());
                let ts = f["transfer_syntax_uid"].as_str().unwrap();
                assert_eq!(inst["StoredTransferSyntaxUID"], ts);
                let frames = inst["ImageFrames"].as_array().unwrap();
                let expected = f["frames"].as_array().unwrap();
                assert_eq!(frames.len(), expected.len());
                for (frame, want) in frames.iter().zip(expected) {
                    assert_eq!(frame["MinPixelValue"], want["min"]);
                    assert_eq!(frame["MaxPixelValue"], want["max"]);
                    assert_eq!(frame["FrameSizeInBytes"], want["length"]);
                    let full = frame["PixelDataChecksumFromBaseToFullResolution"]
                        .as_array()
                        .unwrap()
                        .last()
                        .unwrap()
                        .clone();
                    assert_eq!(full["Checksum"], want["crc32"]);
                    assert_eq!(full["Width"], f["columns"]);
                    let out =
                        image_frame(c, &ds, set.image_set_id(), frame["ID"].as_str().unwrap())
                            .await
                            .unwrap();
                    assert_eq!(out.content_type(), Some(frame_content_type(ts)));
                    let bytes = out.image_frame_blob.collect().await.unwrap().into_bytes();
                    assert_eq!(
                        hex::encode(Sha256::digest(&bytes)),
                        want["sha256"].as_str().unwrap(),
                        "frame bytes of {sop}"
                    );
                }
            }
        }
    }
    assert_eq!(seen, files.len());

    // The job's output folder: manifest and one success line per file.
    let jobs = c
        .list_dicom_import_jobs()
        .datastore_id(&ds)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.job_summaries().len(), 1);
    let job = &jobs.job_summaries()[0];
    assert_eq!(job.job_status(), &JobStatus::Completed);
    assert!(job.ended_at().is_some());
    let out_dir = job_output_dir(&env, "output-bucket/out", &ds, job.job_id());
    let m: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("job-output-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["jobSummary"]["numberOfScannedFiles"], files.len());
    assert_eq!(m["jobSummary"]["numberOfImportedFiles"], files.len());
    assert_eq!(m["jobSummary"]["numberOfGeneratedImageSets"], series.len());
    let success = std::fs::read_to_string(out_dir.join("SUCCESS/success.ndjson")).unwrap();
    assert_eq!(success.lines().count(), files.len());
    assert!(!out_dir.join("FAILURE").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_reported_in_failure_and_do_not_fail_the_job() {
    let env = start();
    stage_samples(&env, "in-bucket", "mixed/");
    let dir = env.s3.path().join("in-bucket/mixed");
    std::fs::write(dir.join("notes.txt"), b"not a dicom file").unwrap();
    let good = std::fs::read(samples_dir().join("dicom/HI-PAT-A/A1/S01_CT/IM0001.dcm")).unwrap();
    std::fs::write(dir.join("truncated.dcm"), &good[..300]).unwrap();
    let ds = create_datastore(&env.client, "mixed").await;
    let (job_id, status) = import(
        &env.client,
        &ds,
        "s3://in-bucket/mixed/",
        "s3://out-bucket/",
    )
    .await;
    assert_eq!(status, JobStatus::Completed);
    let out_dir = job_output_dir(&env, "out-bucket", &ds, &job_id);
    let failure = std::fs::read_to_string(out_dir.join("FAILURE/failure.ndjson")).unwrap();
    let failed: Vec<Value> = failure
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(failed.len(), 2);
    let uris: Vec<&str> = failed
        .iter()
        .map(|f| f["inputFile"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"s3://in-bucket/mixed/notes.txt"));
    assert!(uris.contains(&"s3://in-bucket/mixed/truncated.dcm"));
    let notes = &failed[uris.iter().position(|u| u.ends_with("notes.txt")).unwrap()];
    assert_eq!(notes["exception"]["exceptionType"], "NotDicomFile");
    assert_eq!(
        notes["exception"]["message"],
        "not a DICOM Part-10 file: no DICM magic after the 128-byte preamble"
    );
    let m: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("job-output-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["jobSummary"]["numberOfFilesWithCustomerError"], 2);
    assert_eq!(
        m["jobSummary"]["numberOfImportedFiles"],
        manifest()["files"].as_array().unwrap().len()
    );
    // The good files were imported and the server still answers.
    assert_eq!(all_image_sets(&env.client, &ds).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_input_fails_the_job_with_a_message() {
    let env = start();
    let ds = create_datastore(&env.client, "empty").await;
    // A missing bucket, and a folder with nothing in it: the job fails, saying why.
    std::fs::create_dir_all(env.s3.path().join("in-bucket/empty")).unwrap();
    for (input, why) in [
        (
            "s3://no-such-bucket/x/",
            "The input bucket of s3://no-such-bucket/x/ does not exist or is not accessible",
        ),
        (
            "s3://in-bucket/empty/",
            "No objects found under s3://in-bucket/empty/",
        ),
    ] {
        let (job_id, status) = import(&env.client, &ds, input, "s3://out-bucket/").await;
        assert_eq!(status, JobStatus::Failed);
        let p = job_properties(&env.client, &ds, &job_id).await;
        assert_eq!(p.message(), Some(why));
        assert_eq!(p.input_s3_uri(), input);
    }
    // Status filter on the list.
    let failed = env
        .client
        .list_dicom_import_jobs()
        .datastore_id(&ds)
        .job_status(JobStatus::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.job_summaries().len(), 2);
    let done = env
        .client
        .list_dicom_import_jobs()
        .datastore_id(&ds)
        .job_status(JobStatus::Completed)
        .send()
        .await
        .unwrap();
    assert!(done.job_summaries().is_empty());
}

/// Writes a copy of a sample with one attribute changed.
fn modified_copy(
    src: &std::path::Path,
    dest: &std::path::Path,
    tag: dicom_core::Tag,
    vr: dicom_core::VR,
    value: &str,
) {
    let mut obj = dicom_object::open_file(src).unwrap();
    obj.put(dicom_core::DataElement::new(
        tag,
        vr,
        dicom_core::PrimitiveValue::from(value),
    ));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    obj.write_to_file(dest).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reimport_bumps_the_version_and_conflicts_go_to_a_non_primary_image_set() {
    let env = start();
    let ds = seeded(&env).await;
    let c = &env.client;
    let ct = samples_dir().join("dicom/HI-PAT-A/A1/S01_CT/IM0001.dcm");
    let series_uid = manifest()["files"][0]["series_instance_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let before = all_image_sets(c, &ds).await;
    let by_series = |uid: &str| {
        SearchCriteria::builder()
            .filters(
                SearchFilter::builder()
                    .operator(Operator::Equal)
                    .values(SearchByAttributeValue::DicomSeriesInstanceUid(uid.into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };

    // The same instance again: same image set, version 2, still 5 instances.
    let again = env.s3.path().join("in2-bucket/again/IM0001.dcm");
    std::fs::create_dir_all(again.parent().unwrap()).unwrap();
    std::fs::copy(&ct, &again).unwrap();
    let (_, status) = import(c, &ds, "s3://in2-bucket/again/", "s3://out-bucket/").await;
    assert_eq!(status, JobStatus::Completed);
    let hits = search_all(c, &ds, Some(by_series(&series_uid)), 50).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].version(), Some(2));
    assert_eq!(all_image_sets(c, &ds).await.len(), before.len());
    let meta = metadata(c, &ds, hits[0].image_set_id(), None).await;
    assert_eq!(
        meta["Study"]["Series"][&series_uid]["Instances"]
            .as_object()
            .unwrap()
            .len(),
        5
    );
    let versions = c
        .list_image_set_versions()
        .datastore_id(&ds)
        .image_set_id(hits[0].image_set_id())
        .send()
        .await
        .unwrap();
    assert_eq!(versions.image_set_properties_list().len(), 2);

    // The same series with another Patient ID conflicts: a new, non-primary image set.
    let conflicting = env.s3.path().join("in3-bucket/conflict/IM0001.dcm");
    modified_copy(
        &ct,
        &conflicting,
        dicom_dictionary_std::tags::PATIENT_ID,
        dicom_core::VR::LO,
        "OTHER-PATIENT",
    );
    let (job_id, status) = import(c, &ds, "s3://in3-bucket/conflict/", "s3://out-bucket/").await;
    assert_eq!(status, JobStatus::Completed);
    let hits = search_all(c, &ds, Some(by_series(&series_uid)), 50).await;
    let mut primaries: HashMap<bool, usize> = HashMap::new();
    for h in &hits {
        *primaries.entry(h.is_primary().unwrap()).or_default() += 1;
    }
    assert_eq!(primaries.get(&true), Some(&1));
    assert_eq!(primaries.get(&false), Some(&1));
    let out_dir = job_output_dir(&env, "out-bucket", &ds, &job_id);
    let success = std::fs::read_to_string(out_dir.join("SUCCESS/success.ndjson")).unwrap();
    let line: Value = serde_json::from_str(success.lines().next().unwrap()).unwrap();
    assert_eq!(line["importResponse"]["isPrimary"], false);
}
