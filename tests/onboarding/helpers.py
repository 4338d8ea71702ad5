"""Browser-style helpers for the onboarding tests: forms with CSRF, the dev mailbox, files."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
from collections.abc import Callable
from typing import Any

import pyotp
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import select
from stdnum.us import ein

from app.db import db
from app.mail.models import DevMailMessage
from tests.conftest import TOTP_SECRET_RE, csrf_token


def pdf_file(change: Callable[[PdfWriter], None] | None = None) -> bytes:
    """A real one-page PDF, built with pypdf; `change` edits the writer before it is saved."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    if change is not None:
        change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_file(kind: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    """A real PNG or JPEG, drawn with Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, "white").save(out, kind)
    return out.getvalue()


# Files that really are what they claim (the portal parses uploads; magic bytes alone fail).
PDF = pdf_file()
PNG = image_file("PNG")
JPEG = image_file("JPEG")
LINK_RE = re.compile(r"https?://[^/\s]+(/\S+)")

# A German IBAN/BIC pair and a US routing number that pass their check digits.
IBAN = "DE81851167971317136109"
BIC = "SWHBDESSXXX"
ROUTING = "239077969"


def unique_ein() -> str:
    """A fresh, valid US EIN, so tests never collide in the shared mock ERP."""
    while True:
        candidate = (
            f"{random.choice(['12', '20', '27', '46', '82'])}-{random.randint(0, 9_999_999):07d}"  # noqa: S311
        )
        if ein.is_valid(candidate):
            return candidate


def text(response) -> str:
    return response.get_data(as_text=True)


def post_form(
    client,
    url: str,
    data: dict[str, Any],
    *,
    page: str | None = None,
    token: str | None = None,
    **kwargs,
):
    """Load the page holding the form (default: `url`), then post it with its CSRF token.

    A caller filling many forms in one session may pass the session's `token` instead."""
    token = token or csrf_token(text(client.get(page or url)))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def confirm_it_is_me(client, path: str):
    """Open a page that asks for a recent second factor: set up the authenticator app as a
    person would (key read off the page, current code typed in), then land on the page."""
    response = client.get(path)
    location = response.headers.get("Location", "")
    assert response.status_code == 302, "the page did not ask for a second factor"
    assert "/account/mfa/setup" in location, location
    page = text(client.get(location))
    code = pyotp.TOTP(TOTP_SECRET_RE.search(page).group(1).replace(" ", "")).now()
    response = client.post(location, data={"code": code, "csrf_token": csrf_token(page)})
    assert response.headers["Location"].endswith(path), response.headers.get("Location")
    return client.get(path)


def mails_to(address: str) -> list[DevMailMessage]:
    db.session.expire_all()
    rows = db.session.scalars(select(DevMailMessage).order_by(DevMailMessage.id)).all()
    return [m for m in rows if m.is_for(address)]


def last_mail(address: str) -> DevMailMessage:
    messages = mails_to(address)
    assert messages, f"no mail to {address}"
    return messages[-1]


def link_in(message: DevMailMessage) -> str:
    """The path of the first link in a mail (the test client speaks to the app directly)."""
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def file(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def upload(
    client,
    org_id: int,
    kind: str,
    data: bytes,
    name: str,
    *,
    expires_on: dt.date | None = None,
    token: str | None = None,
):
    url = f"/organizations/{org_id}/documents"
    fields = {"kind": kind, "file": file(data, name)}
    if expires_on is not None:
        fields["expires_on"] = expires_on.isoformat()
    return post_form(client, url, fields, content_type="multipart/form-data", token=token)


def step(client, org_id: int, section: str, data: dict[str, Any], token: str | None = None):
    return post_form(client, f"/organizations/{org_id}/profile/{section}", data, token=token)


def fill_supplier_profile(
    client,
    org_id: int,
    *,
    name: str,
    tax_id: str,
    country: str = "US",
    bank: dict[str, str] | None = None,
) -> None:
    """Walk every step of the wizard as a supplier admin does, checking each saves."""
    answers = {
        "company": {"name": name, "trading_name": "", "country": country, "duns": ""},
        "tax": {"tax_id": tax_id},
        "addresses": {
            **{f"ordering-{k}": v for k, v in _address(country).items()},
            **{f"remit-{k}": v for k, v in _address(country).items()},
        },
        "contacts": {
            "primary-name": "Pat Primary",
            "primary-email": "pat@supplier.example",
            "accounts_receivable-name": "Ray Receivable",
            "accounts_receivable-email": "ar@supplier.example",
        },
        "payment": {"currency": "USD", "accept_terms": "y"},
        "bank": bank
        or {
            "account_holder": name,
            "bank_name": "First Test Bank",
            "scheme": "US_ABA",
            "routing_number": ROUTING,
            "account_number": "123456789",
        },
    }
    # The first step's page gives the session's CSRF token; the browser keeps using it.
    token = csrf_token(text(client.get(f"/organizations/{org_id}/profile/company")))
    for section, data in answers.items():
        response = step(client, org_id, section, data, token)
        assert response.status_code == 302, (section, text(response))
    today = dt.date.today()  # noqa: DTZ011 - the form takes a plain date
    tax_form = "W9" if country == "US" else "W8"
    for kind, expires in (
        (tax_form, None),
        ("COI", today + dt.timedelta(days=365)),
        ("BANK_LETTER", None),
    ):
        response = upload(
            client, org_id, kind, PDF, f"{kind.lower()}.pdf", expires_on=expires, token=token
        )
        assert response.status_code == 302, (kind, text(response))


def _address(country: str) -> dict[str, str]:
    return {
        "street": "1 Main St",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": country,
    }


def submit(client, org_id: int):
    return post_form(
        client,
        f"/organizations/{org_id}/profile/submit",
        {},
        page=f"/organizations/{org_id}/profile",
    )
