"""Supporting documents: sniffed by content, size-limited, stored under generated names
outside the web root, served only to their organization and to procurement."""

from __future__ import annotations

import datetime as dt

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
from sqlalchemy import select

from app.db import db
from app.onboarding.documents import DEFAULT_MAX_BYTES
from app.onboarding.models import SupportingDocument
from tests.onboarding.helpers import JPEG, PDF, PNG, image_file, pdf_file, text, upload

NEXT_YEAR = dt.date.today() + dt.timedelta(days=365)  # noqa: DTZ011 - a plain calendar date


def _documents() -> list[SupportingDocument]:
    db.session.expire_all()
    return list(db.session.scalars(select(SupportingDocument).order_by(SupportingDocument.id)))


def test_pdf_png_and_jpeg_are_accepted_by_content(client, supplier_admin, upload_dir):
    org_id = supplier_admin.organization.id
    # The names lie; the bytes decide.
    assert upload(client, org_id, "W9", PDF, "w9.txt").status_code == 302
    assert upload(client, org_id, "BANK_LETTER", PNG, "letter.pdf").status_code == 302
    assert upload(client, org_id, "COI", JPEG, "coi.png", expires_on=NEXT_YEAR).status_code == 302
    docs = _documents()
    assert [d.content_type for d in docs] == ["application/pdf", "image/png", "image/jpeg"]
    for doc in docs:
        path = upload_dir / doc.stored_name
        assert path.exists()
        assert doc.original_name not in doc.stored_name
        assert "static" not in str(path.parent)
    assert (upload_dir / docs[0].stored_name).read_bytes() == PDF


def test_a_file_of_another_type_is_refused_naming_the_field(client, supplier_admin, upload_dir):
    org_id = supplier_admin.organization.id
    cases = (
        (b"MZ\x90\x00 an executable", "File must be a PDF, PNG or JPEG document."),
        (b"<html><script>alert(1)</script>", "File must be a PDF, PNG or JPEG document."),
        (b"GIF89a", "File must be a PDF, PNG or JPEG document."),
        (b"", "File is empty."),
    )
    for data, message in cases:
        response = upload(client, org_id, "W9", data, "w9.pdf")
        assert response.status_code == 422
        assert message in text(response), message
    assert _documents() == []
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_an_oversize_file_is_refused(client, supplier_admin, app, monkeypatch):
    # A small limit keeps the test's upload in memory (werkzeug spools big test bodies to
    # temporary files it never closes); the 5 MB default is checked below.
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 64 * 1024)
    org_id = supplier_admin.organization.id
    response = upload(client, org_id, "W9", PDF + b"0" * (64 * 1024), "w9.pdf")
    assert response.status_code == 422
    assert "File is larger than 64 KB." in text(response)
    assert _documents() == []
    just_fits = PDF + b"0" * (64 * 1024 - len(PDF))
    assert upload(client, org_id, "W9", just_fits, "w9.pdf").status_code == 302


def test_certificate_of_insurance_needs_a_future_expiry_date(client, supplier_admin):
    org_id = supplier_admin.organization.id
    response = upload(client, org_id, "COI", PDF, "coi.pdf")
    assert "Expiry date is required for a certificate of insurance." in text(response)
    yesterday = dt.date.today() - dt.timedelta(days=1)  # noqa: DTZ011
    response = upload(client, org_id, "COI", PDF, "coi.pdf", expires_on=yesterday)
    assert "Expiry date must be in the future." in text(response)
    assert upload(client, org_id, "COI", PDF, "coi.pdf", expires_on=NEXT_YEAR).status_code == 302
    assert _documents()[0].expires_on == NEXT_YEAR


def test_a_new_upload_replaces_the_current_one_and_both_are_kept(client, supplier_admin):
    org_id = supplier_admin.organization.id
    upload(client, org_id, "W9", PDF, "old.pdf")
    upload(client, org_id, "W9", PDF, "new.pdf")
    old, new = _documents()
    assert old.superseded_at is not None
    assert new.superseded_at is None
    page = text(client.get(f"/organizations/{org_id}/documents"))
    assert "old.pdf" in page
    assert "replaced" in page


def test_the_organization_downloads_its_file_as_an_attachment(client, supplier_admin):
    org_id = supplier_admin.organization.id
    upload(client, org_id, "W9", PDF, "w9.pdf")
    doc = _documents()[0]
    response = client.get(f"/organizations/{org_id}/documents/{doc.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response.headers["Content-Disposition"]
    response.close()


def test_missing_and_expired_documents_are_listed(client, supplier_admin):
    from app.onboarding.documents import missing_documents

    org_id = supplier_admin.organization.id
    upload(client, org_id, "COI", PDF, "coi.pdf", expires_on=NEXT_YEAR)
    org = supplier_admin.organization
    org.country = "DE"
    problems = missing_documents(org)
    assert problems == ["Form W-8 (BEN / BEN-E) is missing.", "Bank letter is missing."]
    later = missing_documents(org, today=NEXT_YEAR + dt.timedelta(days=1))
    assert f"Certificate of insurance expired on {NEXT_YEAR.isoformat()}." in later


# -- content checks: a file must really be the document its first bytes claim ------------------
FAKE_PDF = b"%PDF-1.7\n" + b"A" * 36  # 45 bytes that only start like a PDF


def _encrypted(writer: PdfWriter) -> None:
    writer.encrypt(user_password="", owner_password="owner")  # opens without a password, too


def _document_javascript(writer: PdfWriter) -> None:
    """Document-level JavaScript: the catalog's /Names /JavaScript name tree."""
    action = writer._add_object(
        DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject("app.alert('hello');"),
            }
        )
    )
    tree = DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("hello"), action])}
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(tree)}
    )


def _open_action_javascript(writer: PdfWriter) -> None:
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.launchURL('https://evil.example');"),
        }
    )


def _attachment(writer: PdfWriter) -> None:
    writer.add_attachment("payload.exe", b"MZ\x90\x00")


@pytest.mark.parametrize("kind", ["W9", "COI", "BANK_LETTER"])
def test_a_file_that_only_starts_like_a_pdf_is_refused(client, supplier_admin, kind):
    assert len(FAKE_PDF) == 45
    response = upload(
        client, supplier_admin.organization.id, kind, FAKE_PDF, "doc.pdf", expires_on=NEXT_YEAR
    )
    assert response.status_code == 422
    assert "This PDF is damaged or incomplete and cannot be read." in text(response)
    assert _documents() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (PDF[: len(PDF) // 2], "This PDF is damaged or incomplete"),
        (pdf_file(_encrypted), "This PDF is password-protected or encrypted."),
        (pdf_file(_document_javascript), "This PDF contains JavaScript."),
        (pdf_file(_open_action_javascript), "This PDF contains JavaScript."),
        (pdf_file(_attachment), "This PDF has files attached inside it."),
    ],
    ids=["truncated", "encrypted", "javascript", "open-action-javascript", "embedded-file"],
)
def test_unsafe_or_broken_pdfs_are_refused_at_the_field(
    client, supplier_admin, upload_dir, data, message
):
    response = upload(client, supplier_admin.organization.id, "W9", data, "w9.pdf")
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'id="file-error"' in page  # the message sits at the file field
    assert _documents() == []
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_a_real_pdf_built_by_pypdf_is_accepted(client, supplier_admin):
    data = pdf_file(lambda w: w.add_metadata({"/Title": "W-9 Acme"}))
    assert upload(client, supplier_admin.organization.id, "W9", data, "w9.pdf").status_code == 302
    assert [d.content_type for d in _documents()] == ["application/pdf"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17), "This PNG image is damaged"),
        (PNG[: len(PNG) - 20], "This PNG image is damaged"),
        (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20) + b"\xff\xd9",
            "This JPEG image is damaged",
        ),
        (image_file("PNG", (8000, 8000), "1"), "The image is larger than a scan needs."),
    ],
    ids=["fake-png", "truncated-png", "fake-jpeg", "too-many-pixels"],
)
def test_images_that_do_not_decode_or_are_too_large_are_refused(
    client, supplier_admin, data, message
):
    response = upload(client, supplier_admin.organization.id, "BANK_LETTER", data, "letter.png")
    assert response.status_code == 422
    assert message in text(response)
    assert _documents() == []
