"""The local HealthImaging driven by boto3 as an independent client, checked against the
sample manifest: import, search, metadata, frames, updates, versions, copies, deletes, tags,
and the error shapes (validation, signature, throttling)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import (
    ACCOUNT_ID,
    REGION,
    Seeded,
    error_of,
    files_by_series,
    get_metadata,
    import_samples,
    instances_of,
    make_client,
    paginate,
    search_all,
    stage_samples,
    start_server,
    wait_datastore_status,
)

CONTENT_TYPES = {
    "1.2.840.10008.1.2.4.202": "image/jph",
    "1.2.840.10008.1.2.4.90": "image/j2c",
    "1.2.840.10008.1.2.1": "application/octet-stream",
}


def expect_error(code: str, status: int, call, /, **params) -> str:
    """`call(**params)` must raise a ClientError with `code` and `status`; returns its message."""
    with pytest.raises(ClientError) as info:
        call(**params)
    assert error_of(info.value) == (code, status), info.value.response
    return info.value.response["Error"]["Message"]


def series_of(seeded: Seeded, summaries: list[dict]) -> list[str]:
    """The SeriesInstanceUIDs of search results, by the image set IDs the import produced."""
    by_id = {v: k for k, v in seeded.image_sets.items()}
    return [by_id[s["imageSetId"]] for s in summaries]


def equal(attribute: dict) -> dict:
    return {"filters": [{"operator": "EQUAL", "values": [attribute]}]}


def study_date_time(date: str, time: str) -> dict:
    return {"DICOMStudyDateAndTime": {"DICOMStudyDate": date, "DICOMStudyTime": time}}


def first(manifest: dict, key: str, **where) -> str:
    """`key` of the first manifest file whose fields equal `where`."""
    return next(f[key] for f in manifest["files"] if all(f[k] == v for k, v in where.items()))


# ---- import ------------------------------------------------------------------------------------


def test_import_job_completes_lists_and_writes_its_output(client, server, seeded, manifest):
    job = seeded.job
    assert job["jobStatus"] == "COMPLETED"
    assert job["dataAccessRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/")
    assert job["outputS3Uri"] == seeded.output_uri
    assert job["endedAt"] >= job["submittedAt"]

    jobs, pages = paginate(client, "list_dicom_import_jobs", "jobSummaries", datastoreId=seeded.datastore_id)
    assert [j["jobId"] for j in jobs] == [job["jobId"]]
    assert pages == 1
    assert jobs[0]["jobStatus"] == "COMPLETED"
    failed = client.list_dicom_import_jobs(datastoreId=seeded.datastore_id, jobStatus="FAILED")
    assert failed["jobSummaries"] == []

    # The job writes its report under outputS3Uri, i.e. under the S3 stand-in folder.
    bucket, _, prefix = seeded.output_uri[len("s3://") :].partition("/")
    folder = Path(server.s3_root) / bucket / prefix / (f"{seeded.datastore_id}-DicomImport-{job['jobId']}")
    summary = json.loads((folder / "job-output-manifest.json").read_text())["jobSummary"]
    n_files = len(manifest["files"])
    assert summary["numberOfScannedFiles"] == n_files
    assert summary["numberOfImportedFiles"] == n_files
    assert summary["numberOfFilesWithCustomerError"] == 0
    assert summary["numberOfGeneratedImageSets"] == manifest["totals"]["series"] == 4
    assert {s["imageSetId"] for s in summary["imageSetsSummary"]} == set(seeded.image_sets.values())
    assert all(s["isPrimary"] for s in summary["imageSetsSummary"])
    success = (folder / "SUCCESS" / "success.ndjson").read_text().splitlines()
    assert len(success) == n_files


# ---- search ------------------------------------------------------------------------------------

# id -> (criteria built from the manifest, which manifest files the result must cover)
SEARCH_CASES = {
    "all": (lambda m: None, lambda f: True),
    "patient-A": (
        lambda m: equal({"DICOMPatientId": "HI-PAT-A"}),
        lambda f: f["patient_id"] == "HI-PAT-A",
    ),
    "patient-B": (
        lambda m: equal({"DICOMPatientId": "HI-PAT-B"}),
        lambda f: f["patient_id"] == "HI-PAT-B",
    ),
    "unknown-patient": (lambda m: equal({"DICOMPatientId": "HI-PAT-Z"}), lambda f: False),
    "study-B1": (
        lambda m: equal({"DICOMStudyInstanceUID": first(m, "study_instance_uid", study_id="B1")}),
        lambda f: f["study_id"] == "B1",
    ),
    "series-A1": (
        lambda m: equal({"DICOMSeriesInstanceUID": first(m, "series_instance_uid", study_id="A1")}),
        lambda f: f["study_id"] == "A1",
    ),
    "study-date-2024": (
        lambda m: {
            "filters": [
                {
                    "operator": "BETWEEN",
                    "values": [
                        study_date_time("20240101", "000000"),
                        study_date_time("20241231", "235959"),
                    ],
                }
            ]
        },
        lambda f: "20240101000000" <= f["study_date"] + f["study_time"] <= "20241231235959",
    ),
    "study-date-bounds-inclusive": (
        lambda m: {
            "filters": [
                {
                    "operator": "BETWEEN",
                    "values": [
                        study_date_time("20240105", "101500"),
                        study_date_time("20240310", "143000"),
                    ],
                }
            ]
        },
        lambda f: "20240105101500" <= f["study_date"] + f["study_time"] <= "20240310143000",
    ),
    "primary": (lambda m: equal({"isPrimary": True}), lambda f: True),
    "not-primary": (lambda m: equal({"isPrimary": False}), lambda f: False),
    "patient-B-and-primary": (
        lambda m: {
            "filters": [
                {"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-B"}]},
                {"operator": "EQUAL", "values": [{"isPrimary": True}]},
            ]
        },
        lambda f: f["patient_id"] == "HI-PAT-B",
    ),
}


@pytest.mark.parametrize("case", list(SEARCH_CASES))
def test_search_filters_page_by_page(client, seeded, manifest, case):
    build, matches = SEARCH_CASES[case]
    summaries, pages = search_all(client, seeded.datastore_id, build(manifest), page_size=1)

    expected = {f["series_instance_uid"] for f in manifest["files"] if matches(f)}
    found = series_of(seeded, summaries)
    assert sorted(found) == sorted(expected)  # no duplicates across pages, nothing missing
    assert pages == max(1, len(expected))  # one result per page with PageSize=1

    by_series = files_by_series(manifest)
    for s in summaries:
        tags = s["DICOMTags"]
        files = by_series[tags["DICOMSeriesInstanceUID"]]
        assert tags["DICOMPatientId"] == files[0]["patient_id"]
        assert tags["DICOMStudyInstanceUID"] == files[0]["study_instance_uid"]
        assert tags["DICOMStudyDate"] == files[0]["study_date"]
        assert tags["DICOMNumberOfStudyRelatedInstances"] == len(files)
        assert s["isPrimary"] is True
        assert s["version"] == 1


def _one_file_per_series(manifest: dict) -> list[dict]:
    return [files[0] for files in files_by_series(manifest).values()]


def test_search_sorted_by_study_date_and_resumable(client, seeded, manifest):
    criteria = {"sort": {"sortField": "DICOMStudyDateAndTime", "sortOrder": "ASC"}}
    paginator = client.get_paginator("search_image_sets")
    params = {"datastoreId": seeded.datastore_id, "searchCriteria": criteria}

    head = paginator.paginate(**params, PaginationConfig={"PageSize": 1, "MaxItems": 2})
    head = head.build_full_result()
    assert len(head["imageSetsMetadataSummaries"]) == 2
    assert head.get("NextToken")
    tail = paginator.paginate(
        **params, PaginationConfig={"PageSize": 1, "StartingToken": head["NextToken"]}
    ).build_full_result()
    results = head["imageSetsMetadataSummaries"] + tail["imageSetsMetadataSummaries"]
    assert "NextToken" not in tail

    assert sorted(series_of(seeded, results)) == sorted(seeded.image_sets)
    keys = [r["DICOMTags"]["DICOMStudyDate"] + r["DICOMTags"]["DICOMStudyTime"] for r in results]
    assert keys == sorted(f["study_date"] + f["study_time"] for f in _one_file_per_series(manifest))


# ---- metadata and frames -----------------------------------------------------------------------


def test_metadata_matches_manifest(client, seeded, manifest):
    by_series = files_by_series(manifest)
    assert set(seeded.image_sets) == set(by_series)
    frame_ids = []
    for series_uid, image_set_id in seeded.image_sets.items():
        files = by_series[series_uid]
        doc = get_metadata(client, seeded.datastore_id, image_set_id)
        assert doc["DatastoreID"] == seeded.datastore_id
        assert doc["ImageSetID"] == image_set_id
        assert doc["Patient"]["DICOM"]["PatientID"] == files[0]["patient_id"]
        assert doc["Patient"]["DICOM"]["PatientName"] == files[0]["patient_name"]
        assert doc["Study"]["DICOM"]["StudyInstanceUID"] == files[0]["study_instance_uid"]
        assert list(doc["Study"]["Series"]) == [series_uid]
        series = doc["Study"]["Series"][series_uid]
        assert series["DICOM"]["SeriesInstanceUID"] == series_uid
        assert series["DICOM"]["Modality"] == files[0]["modality"]

        instances = instances_of(doc)
        assert set(instances) == {f["sop_instance_uid"] for f in files}
        for f in files:
            inst = instances[f["sop_instance_uid"]]
            assert inst["DICOM"]["SOPInstanceUID"] == f["sop_instance_uid"]
            assert inst["DICOM"]["SOPClassUID"] == f["sop_class_uid"]
            assert inst["StoredTransferSyntaxUID"] == f["transfer_syntax_uid"]
            frames = inst["ImageFrames"]
            assert len(frames) == f["number_of_frames"] == len(f["frames"])
            for got, want in zip(frames, f["frames"], strict=True):
                where = f"{f['path']} frame {want['index']}"
                assert got["MinPixelValue"] == want["min"], where
                assert got["MaxPixelValue"] == want["max"], where
                assert got["FrameSizeInBytes"] == want["length"], where
                (checksum,) = got["PixelDataChecksumFromBaseToFullResolution"]
                assert checksum["Checksum"] == want["crc32"], where
                assert (checksum["Width"], checksum["Height"]) == (f["columns"], f["rows"])
                frame_ids.append(got["ID"])
    assert len(frame_ids) == len(set(frame_ids)) == manifest["totals"]["frames"]


def test_every_frame_matches_manifest(client, seeded, manifest):
    by_series = files_by_series(manifest)
    seen_syntaxes = set()
    fetched = 0
    for series_uid, image_set_id in seeded.image_sets.items():
        instances = instances_of(get_metadata(client, seeded.datastore_id, image_set_id))
        for f in by_series[series_uid]:
            inst = instances[f["sop_instance_uid"]]
            for got, want in zip(inst["ImageFrames"], f["frames"], strict=True):
                resp = client.get_image_frame(
                    datastoreId=seeded.datastore_id,
                    imageSetId=image_set_id,
                    imageFrameInformation={"imageFrameId": got["ID"]},
                )
                body = resp["imageFrameBlob"].read()
                where = f"{f['path']} frame {want['index']}"
                assert len(body) == want["length"], where
                assert hashlib.sha256(body).hexdigest() == want["sha256"], where
                assert resp["contentType"] == CONTENT_TYPES[f["transfer_syntax_uid"]], where
                seen_syntaxes.add(f["transfer_syntax_uid"])
                fetched += 1
    assert fetched == manifest["totals"]["frames"]
    assert seen_syntaxes == set(CONTENT_TYPES)


def test_frame_of_another_image_set_is_not_found(client, seeded, manifest):
    a1 = first(manifest, "series_instance_uid", study_id="A1")
    a2 = first(manifest, "series_instance_uid", study_id="A2")
    doc = get_metadata(client, seeded.datastore_id, seeded.image_sets[a1])
    frame_id = next(iter(instances_of(doc).values()))["ImageFrames"][0]["ID"]
    expect_error(
        "ResourceNotFoundException",
        404,
        client.get_image_frame,
        datastoreId=seeded.datastore_id,
        imageSetId=seeded.image_sets[a2],
        imageFrameInformation={"imageFrameId": frame_id},
    )


# ---- updates and versions ----------------------------------------------------------------------


def _without_patient_name(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    del doc["Patient"]["DICOM"]["PatientName"]
    return doc


def test_update_metadata_versions_conflict_and_revert(client, seeded, manifest):
    series_uid = first(manifest, "series_instance_uid", study_id="A1")
    ids = {"datastoreId": seeded.datastore_id, "imageSetId": seeded.image_sets[series_uid]}

    def metadata(version: str | None = None) -> dict:
        return get_metadata(client, seeded.datastore_id, ids["imageSetId"], version)

    before = metadata()
    assert before["Patient"]["DICOM"]["PatientName"] == "DOE^JANE"

    updates = {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "DOE^JANET"}}}
    resp = client.update_image_set_metadata(
        **ids,
        latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(updates).encode()}},
    )
    assert resp["latestVersionId"] == "2"
    assert resp["imageSetId"] == ids["imageSetId"]

    after = metadata()
    assert after["Patient"]["DICOM"]["PatientName"] == "DOE^JANET"
    assert _without_patient_name(after) == _without_patient_name(before)
    assert metadata("1") == before
    image_set = client.get_image_set(**ids)
    assert image_set["versionId"] == "2"
    assert image_set["imageSetState"] == "ACTIVE"
    assert client.get_image_set(**ids, versionId="1")["versionId"] == "1"

    # A writer that still believes version 1 is the latest loses, and changes nothing.
    stale = {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "STALE^WRITE"}}}
    expect_error(
        "ConflictException",
        409,
        client.update_image_set_metadata,
        **ids,
        latestVersionId="1",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(stale).encode()}},
    )
    assert metadata() == after
    assert client.get_image_set(**ids)["versionId"] == "2"

    (summary,) = search_all(client, seeded.datastore_id, equal({"DICOMSeriesInstanceUID": series_uid}))[0]
    assert summary["DICOMTags"]["DICOMPatientName"] == "DOE^JANET"
    assert summary["version"] == 2

    reverted = client.update_image_set_metadata(
        **ids, latestVersionId="2", updateImageSetMetadataUpdates={"revertToVersionId": "1"}
    )
    assert reverted["latestVersionId"] == "3"
    assert metadata() == before

    versions, pages = paginate(client, "list_image_set_versions", "imageSetPropertiesList", **ids)
    assert [v["versionId"] for v in versions] == ["3", "2", "1"]
    assert pages == 3
    assert {v["imageSetId"] for v in versions} == {ids["imageSetId"]}


# ---- copy and delete ---------------------------------------------------------------------------


def test_copy_subset_of_instances_into_new_image_set(client, seeded, manifest):
    series_uid = first(manifest, "series_instance_uid", study_id="A1")
    files = files_by_series(manifest)[series_uid]
    chosen = {f["sop_instance_uid"]: f for f in files[:2]}
    source_id = seeded.image_sets[series_uid]
    source_before = get_metadata(client, seeded.datastore_id, source_id)
    copiable = {
        "SchemaVersion": "1.1",
        "Study": {"Series": {series_uid: {"Instances": {sop: {} for sop in chosen}}}},
    }

    resp = client.copy_image_set(
        datastoreId=seeded.datastore_id,
        sourceImageSetId=source_id,
        copyImageSetInformation={
            "sourceImageSet": {
                "latestVersionId": "1",
                "DICOMCopies": {"copiableAttributes": json.dumps(copiable)},
            }
        },
    )
    dest_id = resp["destinationImageSetProperties"]["imageSetId"]
    assert dest_id not in seeded.image_sets.values()
    assert resp["sourceImageSetProperties"]["imageSetId"] == source_id
    assert resp["destinationImageSetProperties"]["latestVersionId"] == "1"

    dest = get_metadata(client, seeded.datastore_id, dest_id)
    assert dest["ImageSetID"] == dest_id
    assert dest["Patient"] == source_before["Patient"]
    assert dest["Study"]["DICOM"] == source_before["Study"]["DICOM"]
    copied = instances_of(dest)
    assert set(copied) == set(chosen)
    source_instances = instances_of(source_before)
    for sop in chosen:
        assert copied[sop] == source_instances[sop]

    # The source keeps all its instances; the copy is a new, non-primary image set.
    assert get_metadata(client, seeded.datastore_id, source_id) == source_before
    assert client.get_image_set(datastoreId=seeded.datastore_id, imageSetId=dest_id)["isPrimary"] is False
    summaries, _ = search_all(client, seeded.datastore_id, page_size=50)
    assert len(summaries) == len(seeded.image_sets) + 1

    # The copy serves the frames.
    sop, f = next(iter(chosen.items()))
    frame = client.get_image_frame(
        datastoreId=seeded.datastore_id,
        imageSetId=dest_id,
        imageFrameInformation={"imageFrameId": copied[sop]["ImageFrames"][0]["ID"]},
    )
    assert hashlib.sha256(frame["imageFrameBlob"].read()).hexdigest() == f["frames"][0]["sha256"]


def test_delete_image_set(client, seeded):
    (series_uid, image_set_id), *rest = seeded.image_sets.items()
    ids = {"datastoreId": seeded.datastore_id, "imageSetId": image_set_id}
    resp = client.delete_image_set(**ids)
    assert resp["imageSetId"] == image_set_id
    assert resp["imageSetWorkflowStatus"] == "DELETING"

    expect_error("ResourceNotFoundException", 404, client.get_image_set, **ids)
    expect_error("ResourceNotFoundException", 404, client.get_image_set_metadata, **ids)
    expect_error("ResourceNotFoundException", 404, client.delete_image_set, **ids)
    summaries, _ = search_all(client, seeded.datastore_id, page_size=50)
    assert {s["imageSetId"] for s in summaries} == {i for _, i in rest}


# ---- tags --------------------------------------------------------------------------------------


def test_tags_on_datastore_arn(client, seeded):
    props = client.get_datastore(datastoreId=seeded.datastore_id)["datastoreProperties"]
    arn = props["datastoreArn"]
    assert arn == f"arn:aws:medical-imaging:{REGION}:{ACCOUNT_ID}:datastore/{seeded.datastore_id}"
    assert props["datastoreName"] == seeded.datastore_name
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {}

    client.tag_resource(resourceArn=arn, tags={"project": "imaging", "env": "test"})
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "project": "imaging",
        "env": "test",
    }
    client.tag_resource(resourceArn=arn, tags={"env": "prod"})
    client.untag_resource(resourceArn=arn, tagKeys=["project"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}

    unknown = arn[: -len(seeded.datastore_id)] + "0" * 32
    expect_error("ResourceNotFoundException", 404, client.list_tags_for_resource, resourceArn=unknown)


# ---- the whole lifecycle, with real CREATING/DELETING transitions ------------------------------


def test_datastore_lifecycle_end_to_end(tmp_path, manifest):
    with start_server(tmp_path, transition_delay=0.4) as srv:
        client = make_client(srv.endpoint_url)
        name = f"lifecycle-{uuid.uuid4().hex[:8]}"
        created = client.create_datastore(datastoreName=name, clientToken=uuid.uuid4().hex, tags={"owner": "pytest"})
        datastore_id = created["datastoreId"]
        assert created["datastoreStatus"] == "CREATING"
        props = wait_datastore_status(client, datastore_id, "ACTIVE")
        assert props["datastoreName"] == name
        assert client.list_tags_for_resource(resourceArn=props["datastoreArn"])["tags"] == {"owner": "pytest"}
        listed, _ = paginate(client, "list_datastores", "datastoreSummaries")
        assert [d["datastoreId"] for d in listed] == [datastore_id]

        seeded = import_samples(client, datastore_id, name, stage_samples(srv.s3_root))
        assert set(seeded.image_sets) == set(files_by_series(manifest))
        expect_error("ConflictException", 409, client.delete_datastore, datastoreId=datastore_id)

        image_sets, _ = search_all(client, datastore_id, page_size=50)
        assert len(image_sets) == 4
        for s in image_sets:
            client.delete_image_set(datastoreId=datastore_id, imageSetId=s["imageSetId"])
        assert search_all(client, datastore_id)[0] == []

        assert client.delete_datastore(datastoreId=datastore_id)["datastoreStatus"] == "DELETING"
        status = client.get_datastore(datastoreId=datastore_id)["datastoreProperties"]
        assert status["datastoreStatus"] == "DELETING"
        wait_datastore_status(client, datastore_id, "DELETED")
        deleted, _ = paginate(client, "list_datastores", "datastoreSummaries", datastoreStatus="DELETED")
        assert [d["datastoreId"] for d in deleted] == [datastore_id]
        assert client.list_datastores(datastoreStatus="ACTIVE")["datastoreSummaries"] == []
        # A deleted data store no longer serves image sets.
        expect_error("ResourceNotFoundException", 404, client.search_image_sets, datastoreId=datastore_id)


# ---- error shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["not-a-datastore-id", "A" * 32, "0" * 31])
def test_malformed_datastore_id_is_validation_exception(client, bad_id):
    # botocore does not check the [0-9a-z]{32} pattern client-side, so this reaches the server.
    message = expect_error("ValidationException", 400, client.get_datastore, datastoreId=bad_id)
    assert "datastoreId" in message
    expect_error("ValidationException", 400, client.search_image_sets, datastoreId=bad_id)


def test_unknown_but_well_formed_ids_are_not_found(client, seeded):
    expect_error("ResourceNotFoundException", 404, client.get_datastore, datastoreId="0" * 32)
    expect_error(
        "ResourceNotFoundException",
        404,
        client.get_image_set,
        datastoreId=seeded.datastore_id,
        imageSetId="0" * 32,
    )


def test_wrong_secret_is_invalid_signature(server, client):
    name = f"forged-{uuid.uuid4().hex[:8]}"
    forged = make_client(server.endpoint_url, secret_access_key="not-the-secret")
    expect_error("InvalidSignatureException", 403, forged.list_datastores)
    expect_error(
        "InvalidSignatureException",
        403,
        forged.create_datastore,
        datastoreName=name,
        clientToken=uuid.uuid4().hex,
    )
    # The same request signed with the right secret works, and the forged one changed nothing.
    names = [d["datastoreName"] for d in client.list_datastores()["datastoreSummaries"]]
    assert name not in names


def test_unknown_access_key_is_unrecognized_client(server):
    stranger = make_client(server.endpoint_url, access_key_id="AKIDUNKNOWN")
    expect_error("UnrecognizedClientException", 403, stranger.list_datastores)


def test_throttle_rate_one_throttles_everything(tmp_path):
    with start_server(tmp_path, throttle_rate=1.0) as srv:
        client = make_client(srv.endpoint_url, retries={"total_max_attempts": 1})
        expect_error("ThrottlingException", 429, client.list_datastores)
        expect_error("ThrottlingException", 429, client.get_datastore, datastoreId="0" * 32)
        stats = srv.stats()
        assert stats["throttled"] == stats["requests"] == 2
        assert stats["in_flight"] == 0
