"""File roots, through the MCP server: the dicomweb tools read and write local files only under
the allowed roots (--file-root DIR, repeatable; HEALTHIMAGING_MCP_FILE_ROOTS; default the working
directory). Every escape - `..`, an absolute path elsewhere, a symlink to a file or folder
outside - is a validation_error. store_dicom_files on a file that is not DICOM sends nothing, so
these calls need no data store contents."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import call, ok, tool_error

DATASTORE = "0" * 32


def layout(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("one", "two", "outside")}
    for p in paths.values():
        p.mkdir()
    (paths["one"] / "a.txt").write_text("a")
    (paths["two"] / "b.txt").write_text("b")
    (paths["outside"] / "secret.txt").write_text("s")
    (paths["one"] / "link_file.txt").symlink_to(paths["outside"] / "secret.txt")
    (paths["one"] / "link_dir").symlink_to(paths["outside"])
    (paths["one"] / "inner_link.txt").symlink_to(paths["one"] / "a.txt")
    return paths


async def store(session, *paths: str):
    return await session.call_tool("store_dicom_files", {"datastore_id": DATASTORE, "paths": list(paths)})


def test_repeated_file_roots_allow_inside_and_refuse_every_escape(server, tmp_path):
    p = layout(tmp_path)

    async def steps(session):
        inside = await ok(
            session,
            "store_dicom_files",
            datastore_id=DATASTORE,
            paths=["a.txt", str(p["two"] / "b.txt"), "inner_link.txt"],
        )
        escapes = {
            "dotdot": await store(session, "../outside/secret.txt"),
            "absolute": await store(session, str(p["outside"] / "secret.txt")),
            "symlinked_file": await store(session, "link_file.txt"),
            "symlinked_folder": await store(session, "link_dir/secret.txt"),
            "symlinked_folder_itself": await store(session, "link_dir"),
            "retrieve_dotdot": await session.call_tool(
                "retrieve_dicom_instances",
                {"datastore_id": DATASTORE, "study_instance_uid": "1.2", "folder": "../outside/new"},
            ),
            "retrieve_symlink": await session.call_tool(
                "retrieve_dicom_instances",
                {"datastore_id": DATASTORE, "study_instance_uid": "1.2", "folder": "link_dir/new"},
            ),
        }
        return inside, escapes

    inside, escapes = call(server, steps, "--file-root", str(p["one"]), "--file-root", str(p["two"]))
    # Both roots are readable; a symlink that stays inside resolves to its (same) target.
    assert inside["skipped_not_dicom"] == inside["total"] == 2, inside
    assert inside["requests"] == 0
    for name, result in escapes.items():
        body = tool_error(result)
        assert body["type"] == "validation_error", (name, body)
        assert "outside the allowed file roots" in body["message"], (name, body)
    assert sorted(x.name for x in p["outside"].iterdir()) == ["secret.txt"], "nothing created outside"


def test_roots_from_the_environment_and_the_default(server, tmp_path):
    p = layout(tmp_path)

    async def steps(session):
        return (
            await ok(session, "store_dicom_files", datastore_id=DATASTORE, paths=[str(p["two"] / "b.txt")]),
            await store(session, str(p["outside"] / "secret.txt")),
        )

    roots = os.pathsep.join([str(p["one"]), str(p["two"])])
    allowed, refused = call(server, steps, HEALTHIMAGING_MCP_FILE_ROOTS=roots)
    assert allowed["skipped_not_dicom"] == 1
    assert tool_error(refused)["type"] == "validation_error"

    # No roots given: the working directory (the test's), and nothing outside it.
    here = Path.cwd() / "pyproject.toml"

    async def default_steps(session):
        return (
            await ok(session, "store_dicom_files", datastore_id=DATASTORE, paths=[str(here)]),
            await store(session, str(p["two"] / "b.txt")),
        )

    allowed, refused = call(server, default_steps)
    assert allowed["skipped_not_dicom"] == 1
    assert tool_error(refused)["type"] == "validation_error"
