"""Paths and helpers for the format tests.

Two kinds of sample documents feed them. Ours live in tests/formats/samples and are always
there. The public sample corpus (Peppol/UBL, cXML and X12 examples published by their
standards bodies and open-source projects) is read in place and never copied into this
repository: its licences allow use as test input, not redistribution. It is looked for at
`PORTAL_SAMPLES_DIR`, by default `shared/samples` beside the clone's folder; without it every
test that needs it is skipped with one reason, and the rest of the suite runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.formats import ParseResult, parse

ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR_ENV = "PORTAL_SAMPLES_DIR"
DEFAULT_SAMPLES_DIR = ROOT.parent / "shared" / "samples"
LOCAL_SAMPLES = Path(__file__).resolve().parent / "samples"


def samples_dir() -> Path:
    """Where the public sample corpus is expected: `PORTAL_SAMPLES_DIR`, or the default."""
    configured = os.environ.get(SAMPLES_DIR_ENV)
    return Path(configured).expanduser().resolve() if configured else DEFAULT_SAMPLES_DIR


def shared(relative: str) -> bytes:
    """A file of the public sample corpus. Skips the test when the corpus is absent; fails it
    when the corpus is there but lacks the file (a renamed or missing sample is a bug)."""
    corpus = samples_dir()
    if not corpus.is_dir():
        pytest.skip(
            f"public sample corpus not found at {corpus} (set {SAMPLES_DIR_ENV}); "
            "these tests read it in place"
        )
    path = corpus / relative
    if not path.is_file():
        pytest.fail(f"sample {relative} missing from the public sample corpus at {corpus}")
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
