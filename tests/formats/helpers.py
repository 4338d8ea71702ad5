"""Paths and helpers for the format tests: public samples are read where they live."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.formats import ParseResult, parse

SHARED_SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
LOCAL_SAMPLES = Path(__file__).resolve().parent / "samples"


def shared(relative: str) -> bytes:
    path = SHARED_SAMPLES / relative
    if not path.exists():
        pytest.fail(f"shared sample {relative} missing: shared/ must sit beside the clone")
    return path.read_bytes()


def local(name: str) -> bytes:
    return (LOCAL_SAMPLES / name).read_bytes()


def parse_ok(payload: bytes, content_type: str | None, kind: str) -> list:
    """Parse and insist every document normalized; returns the canonical models."""
    result: ParseResult = parse(payload, content_type, kind)  # type: ignore[arg-type]
    failures = [doc.errors.as_list() for doc in result.documents if doc.errors]
    assert not failures, failures
    return [doc.document for doc in result.documents]


def error_codes(payload: bytes, content_type: str | None, kind: str) -> list[tuple[str, str]]:
    """(path, code) of every error in the payload's single document."""
    result = parse(payload, content_type, kind)  # type: ignore[arg-type]
    assert len(result.documents) == 1
    errors = result.documents[0].errors
    assert errors is not None, "expected the document to be rejected"
    return [(error.path, error.code) for error in errors.errors]
