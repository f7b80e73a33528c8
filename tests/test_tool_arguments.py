"""The names an unknown argument is matched against: snake_case normalisation, then the closest
known parameter (a table of the spellings clients send)."""

from __future__ import annotations

import pytest
from awslabs.healthimaging_mcp_server.arguments import echo, snake_case, suggestion, unknown_argument

DELETE_PATIENT = ("datastore_id", "patient_id", "dry_run")
SEARCH = ("datastore_id", "search_criteria", "next_token", "max_results")


@pytest.mark.parametrize(
    ("given", "known", "meant"),
    [
        ("dryRun", DELETE_PATIENT, "dry_run"),
        ("dry-run", DELETE_PATIENT, "dry_run"),
        ("DryRun", DELETE_PATIENT, "dry_run"),
        ("DRY_RUN", DELETE_PATIENT, "dry_run"),
        ("dry run", DELETE_PATIENT, "dry_run"),
        ("dryrun", DELETE_PATIENT, "dry_run"),
        ("patientID", DELETE_PATIENT, "patient_id"),
        ("DatastoreId", DELETE_PATIENT, "datastore_id"),
        ("searchCriteria", SEARCH, "search_criteria"),
        ("maxResult", SEARCH, "max_results"),
        ("nextToken", SEARCH, "next_token"),
        ("force", DELETE_PATIENT, None),
        ("zzz", SEARCH, None),
    ],
)
def test_suggestion(given: str, known: tuple[str, ...], meant: str | None):
    assert suggestion(given, known) == meant


def test_snake_case_and_messages():
    assert snake_case("maxDeletions") == "max_deletions"
    assert unknown_argument("maxDeletions", ("criteria", "max_deletions")) == (
        "unknown argument 'maxDeletions'; did you mean 'max_deletions'?"
    )
    assert unknown_argument("zzz", ("b", "a")) == "unknown argument 'zzz'; known: a, b"
    assert echo("x" * 10) == "x" * 10
    assert echo("y" * 1_000_000) == "y" * 64 + "... (1000000 characters)"
