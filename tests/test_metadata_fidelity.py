"""The imported metadata is what a DICOM reader sees in the source files.

For every sample file, pydicom (an independent DICOM reader) reads the file, and every element
except Pixel Data must appear in the image set's metadata under its DICOM keyword, at the level
the service uses, with a value of the right JSON type for its VR.
"""

from __future__ import annotations

import base64

import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import get_metadata, instances_of
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement

NUMBER_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}
BINARY_VRS = {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}
SKIPPED = {"PixelData", "FileMetaInformationGroupLength"}


def expected_json(elem: DataElement):
    """The metadata document's value for an element, derived from pydicom's reading of it."""
    if elem.VR == "SQ":
        return len(elem.value)
    if elem.value is None or elem.value == "" or (elem.VM == 0 and elem.VR != "SQ"):
        return None
    if elem.VR in BINARY_VRS:
        return base64.b64encode(elem.value).decode()
    values = list(elem.value) if elem.VM > 1 else [elem.value]
    return values if elem.VR in NUMBER_VRS else [str(v).strip() for v in values]


def actual_json(value, vr: str):
    if vr == "SQ":
        return len(value or [])
    if value is None or vr in BINARY_VRS:
        return value
    values = value if isinstance(value, list) else [value]
    return [v if vr in NUMBER_VRS else str(v).strip() for v in values]


@pytest.mark.parametrize("path", sorted(local.SAMPLES_DIR.rglob("*.dcm")), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_element_is_in_the_metadata_with_a_vr_correct_value(client, seeded, path):
    ds = pydicom.dcmread(path)
    image_set = seeded.image_sets[ds.SeriesInstanceUID]
    doc = get_metadata(client, seeded.datastore_id, image_set)
    series = doc["Study"]["Series"][ds.SeriesInstanceUID]
    instance = instances_of(doc)[ds.SOPInstanceUID]
    levels = {
        "Patient": doc["Patient"]["DICOM"],
        "Study": doc["Study"]["DICOM"],
        "Series": series["DICOM"],
        "Instance": instance["DICOM"],
    }
    # Level placement of the identifying attributes.
    assert levels["Patient"]["PatientID"] == ds.PatientID
    assert levels["Patient"]["PatientName"] == str(ds.PatientName)
    assert levels["Study"]["StudyInstanceUID"] == ds.StudyInstanceUID
    assert levels["Study"]["AccessionNumber"] == ds.AccessionNumber
    assert levels["Series"]["Modality"] == ds.Modality
    assert levels["Instance"]["SOPInstanceUID"] == ds.SOPInstanceUID
    assert levels["Instance"]["TransferSyntaxUID"] == ds.file_meta.TransferSyntaxUID
    assert instance["StoredTransferSyntaxUID"] == ds.file_meta.TransferSyntaxUID
    assert len(instance["ImageFrames"]) == int(getattr(ds, "NumberOfFrames", 1))

    merged: dict[str, object] = {}
    for attrs in levels.values():
        assert not set(merged) & set(attrs), "an attribute appears at two levels"
        merged.update(attrs)
    checked = 0
    for elem in [*ds.file_meta, *ds]:
        key = keyword_for_tag(elem.tag) or f"{elem.tag:08X}"
        if key in SKIPPED:
            continue
        assert key in merged, f"{key} missing from the metadata"
        assert actual_json(merged[key], elem.VR) == expected_json(elem), key
        checked += 1
    assert "PixelData" not in merged
    assert checked > 20
