"""get_image_set_metadata answers its document as one text block and nothing else: the tool lists
no output schema (an untyped document), so there is no structured copy to serialise, send and
validate twice. The text is the same JSON as before: the data store, the image set, and the
metadata document exactly as boto3 reads it from the local HealthImaging.
"""

from __future__ import annotations

import json

from conftest import call, get_metadata


def test_metadata_is_answered_as_text_only_and_whole(server, client, seeded):
    image_set_id = next(iter(seeded.image_sets.values()))
    base = {"datastore_id": seeded.datastore_id, "image_set_id": image_set_id}

    async def steps(s):
        listed = {t.name: t for t in (await s.list_tools()).tools}
        whole = await s.call_tool("get_image_set_metadata", base)
        counts = await s.call_tool("get_image_set_metadata", {**base, "include_instances": False})
        return listed["get_image_set_metadata"], whole, counts

    tool, whole, counts = call(server, steps)
    assert tool.output_schema is None
    for result in (whole, counts):
        assert not result.is_error, result
        assert result.structured_content is None, result
        assert [c.type for c in result.content] == ["text"], result
    answer = json.loads(whole.content[0].text)
    assert answer == {
        "datastore_id": seeded.datastore_id,
        "image_set_id": image_set_id,
        "image_set_metadata": get_metadata(client, seeded.datastore_id, image_set_id),
    }
    # Compact JSON, serialised once in Rust: no spaces after separators.
    assert whole.content[0].text == json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
    series = json.loads(counts.content[0].text)["image_set_metadata"]["Study"]["Series"]
    assert series and all("Instances" not in s and s["InstanceCount"] > 0 for s in series.values())
