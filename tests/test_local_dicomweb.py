"""The local HealthImaging's DICOMweb APIs, driven by an established DICOMweb client.

The client is `dicomweb-client` (not this project's code) with SigV4 signing from
`requests-aws4auth`; the oracles are the bundled sample files read with pydicom and boto3's
view of the same data store (SearchImageSets, GetImageSetMetadata).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from awslabs.healthimaging_mcp_server import local
from conftest import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    create_datastore,
    get_metadata,
    make_client,
    search_all,
    seed_datastore,
    start_server,
    wait_datastore_status,
)
from dicomweb_client.api import DICOMwebClient
from pydicom.encaps import generate_frames
from requests_aws4auth import AWS4Auth

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SIGNER = AWS4Auth(ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION, "medical-imaging")


def session() -> requests.Session:
    s = requests.Session()
    s.auth = SIGNER
    return s


def dicomweb(endpoint_url: str, datastore_id: str) -> DICOMwebClient:
    return DICOMwebClient(url=f"{endpoint_url}/datastore/{datastore_id}", session=session())


def samples() -> dict[str, tuple[Path, pydicom.Dataset]]:
    """SOPInstanceUID -> (path, dataset) of every bundled sample file."""
    out = {}
    for path in sorted(local.SAMPLES_DIR.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        out[ds.SOPInstanceUID] = (path, ds)
    return out


SAMPLES = samples()


def value(attr: dict, keyword: str):
    """First value of an attribute in a DICOM JSON object, by keyword."""
    tag = f"{pydicom.datadict.tag_for_keyword(keyword):08X}"
    return attr.get(tag, {}).get("Value", [None])[0]


def same_attributes(got: pydicom.Dataset, source: pydicom.Dataset) -> None:
    """Every attribute of the source (pixel data aside) is in `got` with the same value."""
    for elem in source:
        if elem.tag == 0x7FE00010:
            continue
        assert elem.tag in got, f"{elem.keyword or elem.tag} missing"
        mine = got[elem.tag]
        if elem.VR == "SQ":
            assert len(mine.value) == len(elem.value), elem.keyword
            for a, b in zip(mine.value, elem.value, strict=True):
                same_attributes(a, b)
        else:
            assert mine.value == elem.value, (elem.keyword or elem.tag, mine.value, elem.value)


@pytest.fixture(scope="module")
def store(client, samples_uri):
    return seed_datastore(client, samples_uri)


@pytest.fixture(scope="module")
def web(server, store) -> DICOMwebClient:
    return dicomweb(server.endpoint_url, store.datastore_id)


# ---- QIDO-RS ------------------------------------------------------------------------------------


def test_study_search_lists_the_imported_studies_newest_update_first(web, client, store):
    studies = web.search_for_studies()
    summaries, _ = search_all(client, store.datastore_id, page_size=50)
    primary = [s for s in summaries if s.get("isPrimary", True)]
    newest: dict[str, float] = {}
    for s in primary:
        uid = s["DICOMTags"]["DICOMStudyInstanceUID"]
        newest[uid] = max(newest.get(uid, 0), s["updatedAt"].timestamp())
    updated = [newest[value(s, "StudyInstanceUID")] for s in studies]
    assert updated == sorted(updated, reverse=True)
    assert {value(s, "StudyInstanceUID") for s in studies} == set(newest)
    for s in studies:
        uid = value(s, "StudyInstanceUID")
        files = [ds for _, ds in SAMPLES.values() if ds.StudyInstanceUID == uid]
        assert value(s, "PatientID") == files[0].PatientID
        assert s["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": str(files[0].PatientName)}]}
        assert value(s, "NumberOfStudyRelatedSeries") == len({f.SeriesInstanceUID for f in files})
        assert value(s, "NumberOfStudyRelatedInstances") == len(files)
        assert s["00080061"]["Value"] == sorted({f.Modality for f in files})
        assert s["00081190"]["Value"][0].endswith(f"/datastore/{store.datastore_id}/studies/{uid}")


def test_study_search_keys_wildcards_ranges_and_paging(web):
    a_studies = {ds.StudyInstanceUID for _, ds in SAMPLES.values() if ds.PatientID == "HI-PAT-A"}
    by_id = web.search_for_studies(search_filters={"PatientID": "HI-PAT-A"})
    assert {value(s, "StudyInstanceUID") for s in by_id} == a_studies
    by_tag = web.search_for_studies(search_filters={"00100020": "HI-PAT-A"})
    assert by_tag == by_id
    assert {value(s, "StudyInstanceUID") for s in web.search_for_studies(search_filters={"PatientName": "DOE*"})} == (
        a_studies
    )
    assert web.search_for_studies(search_filters={"PatientName": "doe"}) == []
    fuzzy = web.search_for_studies(search_filters={"PatientName": "doe"}, fuzzymatching=True)
    assert {value(s, "StudyInstanceUID") for s in fuzzy} == a_studies
    in_2024 = web.search_for_studies(search_filters={"StudyDate": "20240101-20241231"})
    assert {value(s, "StudyDate") for s in in_2024} == {"20240105", "20240310"}
    assert web.search_for_studies(search_filters={"ModalitiesInStudy": "CT"})[0]["00080061"]["Value"] == ["CT"]
    everything = web.search_for_studies()
    paged = [s for offset in range(len(everything)) for s in web.search_for_studies(limit=1, offset=offset)]
    assert paged == everything
    assert web.search_for_studies(search_filters={"PatientID": "nobody"}) == []


def test_search_refuses_unsupported_keys_and_the_window_beyond_10000(server, store):
    base = f"{server.endpoint_url}/datastore/{store.datastore_id}/studies"
    for query in ("offset=10000", "Modality=CT", "limit=-1"):
        r = session().get(f"{base}?{query}", headers={"Accept": "application/dicom+json"})
        assert r.status_code == 400, (query, r.text)
        assert r.json()["__type"] == "ValidationException"


def test_series_and_instance_search_follow_the_documented_order(web, client, store):
    study = next(ds for _, ds in SAMPLES.values() if ds.StudyID == "B1").StudyInstanceUID
    series = web.search_for_series(study)
    assert [value(s, "SeriesNumber") for s in series] == [1, 2]
    for s in series:
        uid = value(s, "SeriesInstanceUID")
        meta = get_metadata(client, store.datastore_id, store.image_sets[uid])
        instances = meta["Study"]["Series"][uid]["Instances"]
        assert value(s, "NumberOfSeriesRelatedInstances") == len(instances)
        found = web.search_for_instances(study, uid)
        assert {value(i, "SOPInstanceUID") for i in found} == set(instances)
        numbers = [value(i, "InstanceNumber") for i in found]
        assert numbers == sorted(numbers)
    mr2 = value(series[1], "SeriesInstanceUID")
    only = web.search_for_instances(study, mr2, search_filters={"InstanceNumber": "2"}, fields=["ImageType"])
    assert [value(i, "InstanceNumber") for i in only] == [2]
    source = next(ds for _, ds in SAMPLES.values() if ds.SeriesInstanceUID == mr2 and ds.InstanceNumber == 2)
    assert only[0]["00080008"]["Value"] == list(source.ImageType)
    assert web.search_for_series("1.2.3.4.5.6.7") == []


# ---- WADO-RS ------------------------------------------------------------------------------------


def test_metadata_carries_every_source_attribute(web):
    for sop, (_, source) in SAMPLES.items():
        got = web.retrieve_instance_metadata(source.StudyInstanceUID, source.SeriesInstanceUID, sop)
        same_attributes(pydicom.Dataset.from_json(got), source)
    mr = next(ds for _, ds in SAMPLES.values() if ds.StudyID == "A2")
    series = web.retrieve_series_metadata(mr.StudyInstanceUID, mr.SeriesInstanceUID)
    assert [value(i, "InstanceNumber") for i in series] == [1, 2, 3]


@pytest.mark.parametrize("syntax", ["*", EXPLICIT_LE])
def test_part10_round_trip_equals_the_source_attributes_and_pixels(web, syntax):
    for sop, (_, source) in SAMPLES.items():
        got = web.retrieve_instance(
            source.StudyInstanceUID, source.SeriesInstanceUID, sop, media_types=(("application/dicom", syntax),)
        )
        same_attributes(got, source)
        stored = source.file_meta.TransferSyntaxUID
        native = not stored.is_compressed
        expected_ts = EXPLICIT_LE if syntax == EXPLICIT_LE or native else stored
        assert got.file_meta.TransferSyntaxUID == expected_ts
        assert got.file_meta.MediaStorageSOPInstanceUID == sop
        assert got.file_meta.ImplementationClassUID == source.file_meta.ImplementationClassUID
        if expected_ts == EXPLICIT_LE:
            assert np.array_equal(got.pixel_array, source.pixel_array), sop
        else:
            n = int(source.get("NumberOfFrames", 1))
            assert list(generate_frames(got.PixelData, number_of_frames=n)) == list(
                generate_frames(source.PixelData, number_of_frames=n)
            )


def test_frames_uncompressed_or_as_stored(web):
    source = next(ds for _, ds in SAMPLES.values() if int(ds.get("NumberOfFrames", 1)) == 10)
    ids = (source.StudyInstanceUID, source.SeriesInstanceUID, source.SOPInstanceUID)
    frames = web.retrieve_instance_frames(
        *ids, frame_numbers=[3, 1], media_types=(("application/octet-stream", EXPLICIT_LE),)
    )
    pixels = source.pixel_array
    assert frames == [pixels[2].astype("<u2").tobytes(), pixels[0].astype("<u2").tobytes()]
    stored = web.retrieve_instance_frames(*ids, frame_numbers=[10], media_types=(("application/octet-stream", "*"),))
    assert stored == [list(generate_frames(source.PixelData, number_of_frames=10))[9]]


def test_retrieval_errors(server, store):
    source = next(ds for _, ds in SAMPLES.values() if ds.StudyID == "B1")
    base = (
        f"{server.endpoint_url}/datastore/{store.datastore_id}/studies/{source.StudyInstanceUID}"
        f"/series/{source.SeriesInstanceUID}/instances/{source.SOPInstanceUID}"
    )
    s = session()
    jpeg = s.get(base, headers={"Accept": "application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50"})
    assert (jpeg.status_code, jpeg.json()["__type"]) == (406, "NotAcceptableException")
    missing = s.get(base + "/frames/99", headers={"Accept": "multipart/related; type=application/octet-stream"})
    assert missing.status_code == 404
    zero = s.get(base + "/frames/0", headers={"Accept": "multipart/related; type=application/octet-stream"})
    assert zero.status_code == 400
    unknown = s.get(base.replace(source.SOPInstanceUID, "1.2.3"), headers={"Accept": "application/dicom"})
    assert (unknown.status_code, unknown.json()["__type"]) == (404, "ResourceNotFoundException")
    unsigned = requests.get(base + "/metadata", headers={"Accept": "application/dicom+json"})
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    forged = requests.get(
        base + "/metadata",
        auth=AWS4Auth(ACCESS_KEY_ID, "wrong-secret", REGION, "medical-imaging"),
        headers={"Accept": "application/dicom+json"},
    )
    assert (forged.status_code, forged.json()["__type"]) == (403, "InvalidSignatureException")


def test_non_primary_image_sets_only_with_image_set_id(server, client, store):
    """A copy of a series into a new image set is not primary; WADO-RS reaches it by imageSetId."""
    source = next(ds for _, ds in SAMPLES.values() if ds.StudyID == "A1")
    primary_id = store.image_sets[source.SeriesInstanceUID]
    copy = client.copy_image_set(
        datastoreId=store.datastore_id,
        sourceImageSetId=primary_id,
        copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}},
    )
    copy_id = copy["destinationImageSetProperties"]["imageSetId"]
    summaries, _ = search_all(client, store.datastore_id, page_size=50)
    assert not next(s for s in summaries if s["imageSetId"] == copy_id).get("isPrimary", False)
    url = (
        f"{server.endpoint_url}/datastore/{store.datastore_id}/studies/{source.StudyInstanceUID}"
        f"/series/{source.SeriesInstanceUID}/instances/{source.SOPInstanceUID}/metadata"
    )
    got = session().get(f"{url}?imageSetId={copy_id}", headers={"Accept": "application/dicom+json"})
    assert got.status_code == 200
    assert value(got.json()[0], "SOPInstanceUID") == source.SOPInstanceUID
    other = session().get(f"{url}?imageSetId={'0' * 32}", headers={"Accept": "application/dicom+json"})
    assert other.status_code == 404


# ---- STOW-RS ------------------------------------------------------------------------------------


def fresh_datastore(client) -> str:
    ds = create_datastore(client, f"stow-{uuid.uuid4().hex[:8]}")
    wait_datastore_status(client, ds, "ACTIVE")
    return ds


def sample_bytes(study_id: str | None = None) -> list[bytes]:
    return [p.read_bytes() for p, ds in SAMPLES.values() if study_id is None or ds.StudyID == study_id]


def multipart(parts: list[tuple[str, bytes]], boundary: str = "stow-test-boundary") -> tuple[bytes, dict]:
    body = b"".join(
        f"--{boundary}\r\nContent-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n" for ctype, content in parts
    )
    body += f"--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }
    return body, headers


def stow(endpoint_url: str, datastore_id: str, body: bytes, headers: dict, study: str | None = None):
    url = f"{endpoint_url}/datastore/{datastore_id}/studies" + (f"/{study}" if study else "")
    return session().post(url, data=body, headers=headers)


def seq_items(answer: dict, keyword: str) -> list[dict]:
    tag = f"{pydicom.datadict.tag_for_keyword(keyword):08X}"
    return answer.get(tag, {}).get("Value", [])


def test_stow_of_a_folder_lands_like_an_import(server, client):
    ds = fresh_datastore(client)
    web = dicomweb(server.endpoint_url, ds)
    datasets = [pydicom.dcmread(p) for p, _ in SAMPLES.values()]
    answer = web.store_instances(datasets)
    stored = {item.ReferencedSOPInstanceUID for item in answer.ReferencedSOPSequence}
    assert stored == set(SAMPLES)
    assert "FailedSOPSequence" not in answer
    # QIDO-RS sees them...
    studies = {value(s, "StudyInstanceUID") for s in web.search_for_studies()}
    assert studies == {d.StudyInstanceUID for _, d in SAMPLES.values()}
    # ...and so does the native API: one primary image set per series, as an import job makes.
    summaries, _ = search_all(client, ds, page_size=50)
    series = {d.SeriesInstanceUID for _, d in SAMPLES.values()}
    assert sorted(s["DICOMTags"]["DICOMSeriesInstanceUID"] for s in summaries) == sorted(series)
    assert all(s["isPrimary"] for s in summaries)
    for s in summaries:
        meta = get_metadata(client, ds, s["imageSetId"])
        uid = s["DICOMTags"]["DICOMSeriesInstanceUID"]
        assert set(meta["Study"]["Series"][uid]["Instances"]) == {
            sop for sop, (_, d) in SAMPLES.items() if d.SeriesInstanceUID == uid
        }
    # Stored again: the same primary image set gets a new version, nothing is duplicated.
    again = stow(server.endpoint_url, ds, *multipart([("application/dicom", b) for b in sample_bytes("A2")]))
    assert again.status_code == 200, again.text
    after, _ = search_all(client, ds, page_size=50)
    assert len(after) == len(summaries)
    a2 = next(d for _, d in SAMPLES.values() if d.StudyID == "A2").SeriesInstanceUID
    assert next(s for s in after if s["DICOMTags"]["DICOMSeriesInstanceUID"] == a2)["version"] == 2


def test_stow_single_part_and_conflicting_data_goes_to_a_non_primary_image_set(server, client):
    ds = fresh_datastore(client)
    first = sample_bytes("A1")[0]
    single = stow(server.endpoint_url, ds, first, {"Content-Type": "application/dicom"})
    assert single.status_code == 200, single.text
    item = seq_items(single.json(), "ReferencedSOPSequence")[0]
    source = pydicom.dcmread(pydicom.filebase.DicomBytesIO(first))
    assert value(item, "ReferencedSOPInstanceUID") == source.SOPInstanceUID
    assert value(item, "RetrieveURL").endswith(
        f"/studies/{source.StudyInstanceUID}/series/{source.SeriesInstanceUID}/instances/{source.SOPInstanceUID}"
    )
    # The same series with another patient ID conflicts with the primary image set.
    changed = pydicom.dcmread(pydicom.filebase.DicomBytesIO(first))
    changed.PatientID = "SOMEONE-ELSE"
    changed.SOPInstanceUID = pydicom.uid.generate_uid()
    changed.file_meta.MediaStorageSOPInstanceUID = changed.SOPInstanceUID
    buffer = pydicom.filebase.DicomBytesIO()
    changed.save_as(buffer, enforce_file_format=True)
    conflicting = stow(server.endpoint_url, ds, buffer.getvalue(), {"Content-Type": "application/dicom"})
    assert conflicting.status_code == 200, conflicting.text
    summaries, _ = search_all(client, ds, page_size=50)
    assert sorted(s["isPrimary"] for s in summaries) == [False, True]
    # DICOMweb sees the primary image set only.
    web = dicomweb(server.endpoint_url, ds)
    found = web.search_for_instances(source.StudyInstanceUID, source.SeriesInstanceUID)
    assert [value(i, "SOPInstanceUID") for i in found] == [source.SOPInstanceUID]


def test_stow_failures(server, client):
    ds = fresh_datastore(client)
    dicom = sample_bytes("A1")[0]
    source = pydicom.dcmread(pydicom.filebase.DicomBytesIO(dicom))
    # A non-DICOM part beside a good one: 202 with one referenced and one failed SOP.
    partial = stow(server.endpoint_url, ds, *multipart([("application/dicom", dicom), ("application/dicom", b"nope")]))
    assert partial.status_code == 202, partial.text
    assert len(seq_items(partial.json(), "ReferencedSOPSequence")) == 1
    failed = seq_items(partial.json(), "FailedSOPSequence")
    assert [value(f, "FailureReason") for f in failed] == [0xC000]
    # Nothing stored: 409, each part failed with its reason.
    wrong_type = stow(server.endpoint_url, ds, *multipart([("text/plain", b"hello")]))
    assert wrong_type.status_code == 409, wrong_type.text
    assert [value(f, "FailureReason") for f in seq_items(wrong_type.json(), "FailedSOPSequence")] == [0xC000]
    other_study = stow(server.endpoint_url, ds, *multipart([("application/dicom", dicom)]), study="1.2.3.4")
    assert other_study.status_code == 409
    [mismatch] = seq_items(other_study.json(), "FailedSOPSequence")
    assert (value(mismatch, "ReferencedSOPInstanceUID"), value(mismatch, "FailureReason")) == (
        source.SOPInstanceUID,
        0xA900,
    )
    # A body that is not multipart as declared, and a media type STOW-RS does not take.
    body, headers = multipart([("application/dicom", dicom)])
    truncated = stow(server.endpoint_url, ds, body[: len(body) // 2], headers)
    assert (truncated.status_code, truncated.json()["__type"]) == (400, "BadRequestException")
    no_boundary = stow(server.endpoint_url, ds, body, {**headers, "Content-Type": "multipart/related"})
    assert no_boundary.status_code == 400
    json_body = stow(server.endpoint_url, ds, b"{}", {"Content-Type": "application/json"})
    assert json_body.status_code == 415
    # Only the one good instance was stored.
    summaries, _ = search_all(client, ds, page_size=50)
    assert [s["DICOMTags"]["DICOMSeriesInstanceUID"] for s in summaries] == [source.SeriesInstanceUID]
    unsigned = requests.post(f"{server.endpoint_url}/datastore/{ds}/studies", data=dicom)
    assert unsigned.status_code == 403


def test_stow_request_size_limit(tmp_path):
    dicom = sample_bytes("A1")
    limit = len(dicom[0]) + 1024
    with start_server(tmp_path, stow_max_bytes=limit) as srv:
        client = make_client(srv.endpoint_url)
        ds = fresh_datastore(client)
        one = stow(srv.endpoint_url, ds, *multipart([("application/dicom", dicom[0])]))
        assert one.status_code == 200, one.text
        two = stow(srv.endpoint_url, ds, *multipart([("application/dicom", b) for b in dicom[:2]]))
        assert (two.status_code, two.json()["__type"]) == (413, "RequestEntityTooLargeException")
        # The native API keeps its own limit.
        assert client.list_datastores()["datastoreSummaries"]


def test_large_binary_attributes_are_bulk_data_served_at_their_uri(server, client):
    ds = fresh_datastore(client)
    source = pydicom.dcmread(next(iter(SAMPLES.values()))[0])
    blob = bytes(range(256)) * 8
    source.add_new(0x00091010, "LO", "HIMCP TEST")
    source.add_new(0x00091011, "OB", blob)
    buffer = pydicom.filebase.DicomBytesIO()
    source.save_as(buffer, enforce_file_format=True)
    stored = stow(server.endpoint_url, ds, buffer.getvalue(), {"Content-Type": "application/dicom"})
    assert stored.status_code == 200, stored.text
    web = dicomweb(server.endpoint_url, ds)
    meta = web.retrieve_instance_metadata(source.StudyInstanceUID, source.SeriesInstanceUID, source.SOPInstanceUID)
    assert meta["00091011"]["vr"] == "OB"
    uri = meta["00091011"]["BulkDataURI"]
    assert "InlineBinary" not in meta["00091011"]
    assert web.retrieve_bulkdata(uri) == [blob]
    # The Part-10 instance carries it back unchanged.
    got = web.retrieve_instance(source.StudyInstanceUID, source.SeriesInstanceUID, source.SOPInstanceUID)
    assert got[0x00091011].value == blob
