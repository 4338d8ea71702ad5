"""Supporting documents: sniffed by content, size-limited, stored outside the web root.

A file is kept only when it really is what its first bytes claim: a PDF must parse (pypdf)
and carry no encryption, JavaScript, launch action or embedded file; an image must decode
(Pillow) within a pixel budget, so a decompression bomb is refused before it is expanded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
import warnings
from pathlib import Path
from typing import IO, Any

from flask import current_app
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject
from sqlalchemy import select

from app.audit.services import record
from app.db import db, utcnow
from app.onboarding import rules
from app.onboarding.errors import FieldError, OnboardingError
from app.onboarding.models import SupportingDocument, SupportingDocumentKind, existing_profile
from app.onboarding.states import transition
from app.orgs.models import Organization, OrgStatus

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
READ_CHUNK = 64 * 1024
# A scanned A4 page at 600 dpi is about 35 million pixels; a bomb is far more.
MAX_IMAGE_PIXELS = 50_000_000
# Objects visited when looking through a PDF for active content; a 5 MB document has far fewer.
MAX_PDF_OBJECTS = 200_000
PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}


def max_upload_bytes() -> int:
    return int(current_app.config.get("UPLOAD_MAX_BYTES") or DEFAULT_MAX_BYTES)


def upload_dir() -> Path:
    """UPLOAD_DIR, or instance/uploads: never under static/, so files are only served by a view."""
    configured = current_app.config.get("UPLOAD_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most limit + 1 bytes, so an oversize file is known without reading all of it."""
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FieldError("file", f"File is larger than {_size_text(limit)}.")
    return data


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size / 1024:g} KB"


def checked_content_type(data: bytes) -> str:
    """The file's type, once its content proved to be a clean document of that type."""
    if not data:
        raise FieldError("file", "File is empty.")
    content_type = rules.sniff_content_type(data[:16])
    if content_type is None:
        raise FieldError("file", "File must be a PDF, PNG or JPEG document.")
    if content_type == "application/pdf":
        check_pdf(data)
    else:
        check_image(data, content_type)
    return content_type


# -- PDF ----------------------------------------------------------------------------------------
# Keys and action types that make a PDF do something when opened or clicked.
_SCRIPT_KEYS = frozenset({"/JS", "/JavaScript"})
_EMBEDDED_KEYS = frozenset({"/EmbeddedFiles", "/EmbeddedFile", "/EF"})
_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/ImportData", "/RichMediaExecute"})


class _ActiveContent(Exception):  # noqa: N818 - an internal signal, never seen outside
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_pdf(data: bytes) -> None:
    """A PDF that parses, is not encrypted and carries no script, launch action or attachment."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypdf's notes on sloppy files; errors still raise
            reader = PdfReader(io.BytesIO(data))
            encrypted = reader.is_encrypted
            pages = 0 if encrypted else len(reader.pages)
            if not encrypted and pages:
                _look_for_active_content(reader.trailer)
    except _ActiveContent as found:
        raise FieldError("file", found.message) from None
    except Exception:  # any failure of the parser means the file is not a usable PDF
        raise FieldError(
            "file",
            "This PDF is damaged or incomplete and cannot be read. Save it again and upload the new copy.",
        ) from None
    if encrypted:
        raise FieldError(
            "file",
            "This PDF is password-protected or encrypted. Upload a copy without protection.",
        )
    if not pages:
        raise FieldError("file", "This PDF has no pages.")


def _look_for_active_content(root: Any) -> None:
    """Walk every object reachable from the trailer; raise _ActiveContent on the first find."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            node = node.get_object()
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise _ActiveContent("This PDF is too complex to check. Upload a simpler copy.")
        if isinstance(node, DictionaryObject):
            _check_dictionary(node)
            stack.extend(node.values())
        elif isinstance(node, ArrayObject):
            stack.extend(node)


def _check_dictionary(node: DictionaryObject) -> None:
    keys = {str(k) for k in node}
    if keys & _SCRIPT_KEYS or node.get("/S") in {NameObject("/JavaScript")}:
        raise _ActiveContent(
            "This PDF contains JavaScript. Print it to a new PDF (or scan it) and upload that copy."
        )
    if keys & _EMBEDDED_KEYS:
        raise _ActiveContent(
            "This PDF has files attached inside it. Upload the document alone, without attachments."
        )
    if node.get("/S") in _ACTIVE_ACTIONS:
        raise _ActiveContent(
            "This PDF contains an action that starts another program. Upload a plain copy."
        )


# -- images -------------------------------------------------------------------------------------
def check_image(data: bytes, content_type: str) -> None:
    """An image that decodes completely, of the type its signature claims, within the pixel
    budget (checked from the header, before any pixel is expanded)."""
    kind = PIL_FORMATS[content_type]
    too_large = "The image is larger than a scan needs. Upload it at a lower resolution."
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, past its own budget; ours is stricter still.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                width, height = image.size
                fits = width * height <= MAX_IMAGE_PIXELS
                if fits:
                    image.verify()  # the file's structure to its end (PNG: every chunk's CRC)
            if fits:
                with Image.open(io.BytesIO(data), formats=[kind]) as image:
                    image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FieldError("file", too_large) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise FieldError(
            "file", f"This {kind} image is damaged or incomplete and cannot be read."
        ) from None
    if not fits:
        raise FieldError("file", too_large)


def _check_expiry(kind: SupportingDocumentKind, expires_on: dt.date | None, today: dt.date) -> None:
    if kind != SupportingDocumentKind.INSURANCE:
        return
    if expires_on is None:
        raise FieldError("expires_on", "Expiry date is required for a certificate of insurance.")
    if expires_on <= today:
        raise FieldError("expires_on", "Expiry date must be in the future.")


def store(
    org: Organization,
    kind: SupportingDocumentKind,
    filename: str,
    stream: IO[bytes],
    *,
    expires_on: dt.date | None,
    actor,
) -> SupportingDocument:
    """Check and keep an upload; it replaces the current document of the same kind."""
    if org.status not in rules.UPLOAD_STATES:
        raise OnboardingError(
            f"Documents cannot be uploaded while the organization is {org.status.value}."
        )
    _check_expiry(kind, expires_on, utcnow().date())
    data = read_limited(stream, max_upload_bytes())
    content_type = checked_content_type(data)
    stored_name = f"{uuid.uuid4().hex}.{rules.EXTENSIONS[content_type]}"
    # Written before the commit: a rolled-back upload leaves an unreferenced file, never a
    # row pointing at nothing.
    (upload_dir() / stored_name).write_bytes(data)
    previous = current_documents(org).get(kind)
    if previous is not None:
        previous.superseded_at = utcnow()
    document = SupportingDocument(
        organization_id=org.id,
        kind=kind,
        original_name=(filename or "upload")[-255:],
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        expires_on=expires_on if kind == SupportingDocumentKind.INSURANCE else None,
        uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(document)
    db.session.flush()
    record(
        "onboarding.document_uploaded",
        actor=actor,
        organization_id=org.id,
        target=document,
        details={
            "kind": kind.value,
            "content_type": content_type,
            "size_bytes": len(data),
            "expires_on": expires_on.isoformat() if expires_on else None,
            "replaces": previous.id if previous else None,
        },
    )
    _reinstate_if_insured(org, document, actor)
    return document


def _reinstate_if_insured(org: Organization, document: SupportingDocument, actor) -> None:
    """A supplier suspended only for an expired certificate is active again with a new one."""
    profile = existing_profile(org)
    if (
        document.kind == SupportingDocumentKind.INSURANCE
        and org.status == OrgStatus.SUSPENDED
        and profile is not None
        and profile.suspended_reason == rules.CERTIFICATE_EXPIRED
    ):
        profile.suspended_reason = None
        transition(
            org,
            OrgStatus.ACTIVE,
            actor=actor,
            reason="a valid certificate of insurance was uploaded",
            details={"document_id": document.id},
        )


def current_documents(org: Organization) -> dict[SupportingDocumentKind, SupportingDocument]:
    query = select(SupportingDocument).where(
        SupportingDocument.organization_id == org.id, SupportingDocument.superseded_at.is_(None)
    )
    return {d.kind: d for d in db.session.scalars(query)}


def all_documents(org: Organization) -> list[SupportingDocument]:
    query = (
        select(SupportingDocument)
        .where(SupportingDocument.organization_id == org.id)
        .order_by(SupportingDocument.id.desc())
    )
    return list(db.session.scalars(query))


def document_of(org: Organization, document_id: int) -> SupportingDocument | None:
    """A document by id, only if it belongs to `org` (another tenant's id finds nothing)."""
    query = select(SupportingDocument).where(
        SupportingDocument.id == document_id, SupportingDocument.organization_id == org.id
    )
    return db.session.scalar(query)


def path_of(document: SupportingDocument) -> Path:
    return upload_dir() / document.stored_name


def missing_documents(org: Organization, today: dt.date | None = None) -> list[str]:
    """What is missing or expired among the required documents, as sentences."""
    today = today or utcnow().date()
    current = current_documents(org)
    problems = []
    for kind in rules.required_documents(org.country):
        document = current.get(kind)
        if document is None:
            problems.append(f"{kind.label} is missing.")
        elif document.expires_on is not None and document.expires_on < today:
            problems.append(f"{kind.label} expired on {document.expires_on.isoformat()}.")
    return problems
