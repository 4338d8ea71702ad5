"""The users' journeys in a real browser against real processes (web, worker, mock ERP, Redis;
the portal on SQLite as `make run` has it): every page passes axe-core, fits a 390 px screen and
logs no console error, and every step is a screenshot in docs/screenshots (the README's tour).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from decimal import Decimal

import pyotp
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfWriter

from app.demo import BUYER_DOMAIN, DEMO_PASSWORD, NETWORK_NAME
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder
from app.erp.mock.catalog import VENDORS
from app.onboarding.screening import LEIE_COLUMNS
from tests.e2e.journeys import (  # noqa: F401
    AXE,
    DESKTOP,
    SCREENSHOTS,
    Journey,
    Portal,
    journey_portal,
    wait_for,
    watch_console,
)
from tests.e2e.test_demo_in_browser import _sign_in, browser  # noqa: F401
from tests.oidc.harness import OidcProvider

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SUPPLIER = VENDORS[1]  # a demo supplier with open POs that no demo invoice used
INVOICE_NUMBER = "JRN-INV-0001"
PAYMENT_REFERENCE = "PAY-JRN-0001"


def _journey(browser: Browser, name: str) -> tuple[BrowserContext, Journey]:  # noqa: F811
    # axe-core is loaded the way the browser's automation loads scripts, so the portal's CSP
    # (which allows no inline script) neither blocks it nor reports it.
    for old in SCREENSHOTS.glob(f"{name}-[0-9][0-9]-*.png"):
        old.unlink()  # the journey's previous run: its steps may have changed
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    return context, Journey(name, page, watch_console(page))


def _open_po_to_invoice(portal: Portal) -> PurchaseOrder:
    """An open PO of the demo supplier with two lines or more and no demo document against it;
    the hospital's dock then receives all of its first line (the ERP's admin API)."""
    wait_for(
        lambda: (
            not portal.query("SELECT id FROM documents WHERE state IN ('RECEIVED', 'NORMALIZED')")
        ),
        "the worker to read the demo documents",
        portal,
        timeout=60,
    )
    used = {row[0] for row in portal.query("SELECT po_number FROM documents")}
    orders = portal.erp.client().list_purchase_orders(vendor_number=SUPPLIER.number)
    order = next(
        order
        for order in orders
        if order.status in OPEN_PO_STATUSES and len(order.lines) >= 2 and order.number not in used
    )
    first = order.lines[0]
    received = portal.erp.admin(
        "POST",
        f"/admin/purchase-orders/{order.number}/receipts",
        {"line_number": first.line_number, "quantity": str(first.quantity)},
    )
    assert received.status_code == 201, received.text
    return order


def _state(portal: Portal, document_id: int) -> str:
    return portal.query("SELECT state FROM documents WHERE id = ?", document_id)[0][0]


def _document_id(page: Page) -> int:
    """The id of the document page the browser is on (a form's failure shows its errors)."""
    match = re.search(r"/documents/(\d+)$", page.url)
    assert match, (page.url, page.locator(".error, .flash, [role=alert]").all_inner_texts())
    return int(match.group(1))


def test_supplier_invoices_a_po_and_finance_resolves_its_price_hold(
    journey_portal: Portal,  # noqa: F811
    browser: Browser,  # noqa: F811
):
    portal = journey_portal
    order = _open_po_to_invoice(portal)
    first, second = order.lines[0], order.lines[1]

    # -- the supplier: its POs, an acknowledgment from the PO page, then an invoice ------------
    supplier_context, supplier = _journey(browser, "supplier")
    page = supplier.page
    _sign_in(page, portal.url, f"ap@{SUPPLIER.email_domain}")
    supplier.see("home")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchase orders").click()
    expect(page.get_by_role("link", name=order.number)).to_be_visible()
    supplier.see("purchase-orders")
    page.get_by_role("link", name=order.number).click()
    expect(page.get_by_role("heading", name=f"Purchase order {order.number}")).to_be_visible()
    supplier.see("purchase-order")

    page.get_by_label(f"Answer for line {first.line_number}").select_option("accept")
    page.get_by_label(f"Answer for line {second.line_number}").select_option("change")
    later = (second.need_by_date or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=14)
    page.get_by_label(f"Delivery date for line {second.line_number}").fill(later.isoformat())
    page.get_by_label(f"Why, for line {second.line_number}").fill("Back in stock two weeks later")
    page.get_by_role("button", name="Send acknowledgment").click()
    ack_id = _document_id(page)
    wait_for(lambda: _state(portal, ack_id) in ("APPLIED", "ON_HOLD"), "the acknowledgment", portal)
    page.reload()
    expect(page.get_by_role("cell", name="Back in stock two weeks later")).to_be_visible()
    supplier.see("acknowledgment-sent")

    page.goto(f"{portal.url}/purchase-orders/{order.number}")
    page.get_by_role("link", name="Invoice this order").click()
    left = {
        line.line_number: Decimal(
            page.get_by_label(f"Quantity for line {line.line_number}").input_value() or 0
        )
        for line in order.lines
    }
    billed = next(line for line in order.lines if left[line.line_number] > 0)
    quantity = left[billed.line_number]
    # 50% over the PO price, and above the clerk's release limit (500) in total.
    price = max(billed.unit_price * Decimal("1.5"), Decimal(math.ceil(600 / quantity)))
    page.get_by_label("Invoice number").fill(INVOICE_NUMBER)
    for line in order.lines:
        box = page.get_by_label(f"Invoice line {line.line_number}", exact=True)
        box.set_checked(line is billed)
    page.get_by_label(f"Unit price for line {billed.line_number}").fill(f"{price:.2f}")
    supplier.see("invoice-form")
    page.get_by_role("button", name="Send invoice").click()
    invoice_id = _document_id(page)
    wait_for(lambda: _state(portal, invoice_id) == "ON_HOLD", "the PRICE hold", portal)
    page.reload()
    expect(page.locator(".state-words")).to_contain_text("review")
    supplier.see("in-review")

    # -- the finance clerk: PRICE holds, the variance, a question ---------------------------
    clerk_context, clerk = _journey(browser, "finance")
    desk = clerk.page
    _sign_in(desk, portal.url, f"finance.clerk@{BUYER_DOMAIN}")
    clerk.see("home")
    desk.goto(f"{portal.url}/finance/holds")
    desk.locator("form.filters select[name=code]").select_option("PRICE")
    desk.get_by_role("button", name="Filter").click()
    expect(desk.get_by_role("link", name=INVOICE_NUMBER)).to_be_visible()
    clerk.see("price-holds")
    # The keyboard: j moves to the newest held invoice (this one), Enter opens it.
    desk.keyboard.press("j")
    desk.keyboard.press("Enter")
    desk.wait_for_url(f"{portal.url}/finance/invoices/{invoice_id}")
    expect(desk.locator(".side-by-side td.variance").first).to_be_visible()
    clerk.see("invoice-variance")
    desk.get_by_label("Question for the supplier").fill(
        "Your price is above the PO's. Was a price increase agreed, and with whom?"
    )
    desk.get_by_role("button", name="Ask", exact=True).click()
    expect(desk.get_by_text("waiting for the supplier")).to_be_visible()
    clerk.see("asked")

    # -- the supplier answers ------------------------------------------------------------
    page.reload()
    expect(page.get_by_text("Needs your answer.")).to_be_visible()
    supplier.see("question")
    page.get_by_label("Your answer").fill("Yes: the new list price agreed with procurement.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text("the new list price agreed")).to_be_visible()
    supplier.see("answered")

    # -- the clerk may not release above the limit; the manager does ------------------------
    desk.reload()
    expect(desk.get_by_text("the new list price agreed")).to_be_visible()
    desk.keyboard.press("r")  # the shortcut puts the cursor in the release reason
    desk.keyboard.type("Price increase agreed with procurement.")
    desk.get_by_role("button", name="Release").first.click()
    expect(desk.get_by_role("alert")).to_contain_text("manager")
    clerk.see("release-above-limit")

    manager_context, manager = _journey(browser, "finance-manager")
    office = manager.page
    _sign_in(office, portal.url, f"finance.manager@{BUYER_DOMAIN}")
    office.goto(f"{portal.url}/finance/invoices/{invoice_id}")
    office.get_by_label("Why release it").first.fill("Price increase agreed with procurement.")
    with office.expect_navigation():  # the release form posts, then lands on the invoice again
        office.get_by_role("button", name="Release").first.click()
    wait_for(lambda: _state(portal, invoice_id) in ("POSTED", "PAID"), "posting", portal)
    office.reload()
    manager.see("released")

    desk.reload()
    expect(desk.locator("h1")).to_contain_text("posted", ignore_case=True)
    clerk.see("posted")

    # -- posted, then paid: the ERP pays it and the payment sync tells the portal ---------------
    page.reload()
    expect(page.locator(".state-words")).to_contain_text("osted")
    supplier.see("posted")
    ap_invoice_id = portal.query(
        "SELECT erp_ap_invoice_id FROM posting_attempts WHERE document_id = ?"
        " AND erp_ap_invoice_id IS NOT NULL",
        invoice_id,
    )[0][0]
    paid_on = dt.datetime.now(dt.UTC).date()
    response = portal.erp.admin(
        "POST",
        f"/admin/ap-invoices/{ap_invoice_id}/pay",
        {"reference": PAYMENT_REFERENCE, "date": paid_on.isoformat()},
    )
    assert response.ok, response.text
    assert "1 invoice(s) marked paid" in portal.flask("posting", "sync-payments")
    page.reload()
    expect(page.locator(".state-words")).to_contain_text(
        f"Paid on {paid_on.isoformat()}, reference {PAYMENT_REFERENCE}"
    )
    supplier.see("paid")

    for context in (supplier_context, clerk_context, manager_context):
        context.close()


# -- the partner admin ----------------------------------------------------------------------

PARTNER_EMAIL = "admin@medlink.example"
PROVIDER_PASSWORD = "medlink-idp-password"
SSO_CLIENT = ("portal", "portal-client-secret")
APPROVE_PROVIDER = """
from sqlalchemy import select
from app.db import db
from app.demo import PARTNER_NAME
from app.federation.models import IdentityProvider, IdentityProviderDomain, ProviderStatus
from app.orgs.models import Organization
partner = db.session.scalar(select(Organization).where(Organization.name == PARTNER_NAME))
db.session.add(IdentityProvider(
    organization=partner, name="MedLink SSO", issuer="{issuer}", client_id="{client_id}",
    client_secret="{client_secret}", status=ProviderStatus.APPROVED,
    domains=[IdentityProviderDomain(domain="medlink.example")],
))
db.session.commit()
"""


def _send_as_partner(portal: Portal, client_id: str, secret: str) -> dict[str, int]:
    """The partner's own script: a token by client credentials (Authlib), then a UBL invoice
    and an X12 855 for the connected demo supplier, both built for its open POs."""
    supplier_id = portal.query(
        "SELECT id FROM organizations WHERE erp_vendor_number = ?", VENDORS[0].number
    )[0][0]
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
    session.fetch_token(f"{portal.url}/oauth/token", grant_type="client_credentials")
    sent = {}
    for fmt, path in (("ubl", "invoices"), ("x12-855", "acknowledgments")):
        example = requests.get(f"{portal.url}/api/docs/examples/{fmt}", timeout=10)
        assert example.ok, (fmt, example.text)
        answer = session.post(
            f"{portal.url}/api/v1/{path}",
            data=example.content,
            headers={
                "Content-Type": example.headers["Content-Type"],
                "On-Behalf-Of": str(supplier_id),
                "Idempotency-Key": f"journey-{fmt}",
            },
            timeout=10,
        )
        assert answer.status_code == 202, (fmt, answer.text)
        sent[fmt] = answer.json()["documents"][0]["id"]
    return sent


def _totp_if_asked(page: Page) -> None:
    """Creating or rotating a secret asks for a fresh second factor: set one up, or give it."""
    if "/account/mfa/setup" in page.url:
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on two-step verification").click()
        page.wait_for_load_state()


def test_partner_admin_signs_in_with_sso_and_integrates(
    journey_portal: Portal,  # noqa: F811
    browser: Browser,  # noqa: F811
):
    portal = journey_portal
    client_id, client_secret = SSO_CLIENT
    with OidcProvider(
        clients=[
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [f"{portal.url}/auth/oidc/callback"],
                "post_logout_redirect_uris": [f"{portal.url}/login"],
            }
        ],
        users={
            PARTNER_EMAIL: {
                "email": PARTNER_EMAIL,
                "email_verified": True,
                "name": "Partner Admin",
                "password": PROVIDER_PASSWORD,
            }
        },
    ) as idp:
        portal.flask_shell(
            APPROVE_PROVIDER.format(
                issuer=idp.issuer, client_id=client_id, client_secret=client_secret
            )
        )
        context, partner = _journey(browser, "partner")
        page = partner.page
        page.goto(f"{portal.url}/login")
        page.get_by_label("Email").fill(PARTNER_EMAIL)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{idp.issuer}/**")
        page.locator("input[name=login]").fill(PARTNER_EMAIL)
        page.locator("input[name=password]").fill(PROVIDER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{portal.url}/**")
        assert all(e.startswith(idp.issuer) for e in partner.errors), partner.errors
        partner.errors.clear()  # the provider's own pages (its missing favicon) are not ours
        # The first time, the portal links the company identity to the existing account.
        expect(page.get_by_role("heading", name="Link your portal account")).to_be_visible()
        partner.see("link-account")
        page.get_by_label("Portal password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Link and sign in").click()
        page.wait_for_url(f"{portal.url}/home")
        partner.see("signed-in-with-sso")

        # An API client; creating one asks for a fresh second factor, set up on the spot.
        page.goto(f"{portal.url}/api-clients")
        partner.see("api-clients")
        page.goto(f"{portal.url}/api-clients/new")
        _totp_if_asked(page)
        page.goto(f"{portal.url}/api-clients/new")
        page.get_by_label("Name").fill("MedLink invoice bridge")
        for box in page.locator("fieldset input[type=checkbox]").all():
            box.check()
        partner.see("new-api-client")
        page.get_by_role("button", name="Create client").click()
        client_id = page.locator("dd code").first.inner_text()
        secret = page.locator("#client-secret").inner_text()
        partner.see("client-secret")

        # The partner's script sends an invoice and an acknowledgment with that secret.
        sent = _send_as_partner(portal, client_id, secret)
        for document_id in sent.values():
            wait_for(
                lambda d=document_id: _state(portal, d) not in ("RECEIVED", "NORMALIZED"),
                f"document {document_id} to be read",
                portal,
            )
        page.goto(f"{portal.url}/documents")
        for document_id in sent.values():
            expect(page.locator(f"a[href='/documents/{document_id}']").first).to_be_visible()
        partner.see("documents")
        page.goto(f"{portal.url}/documents/{sent['ubl']}")
        partner.see("invoice")

        # Its webhook endpoint was told about the invoice: the delivery log shows the message.
        invoice_id = sent["ubl"]
        wait_for(
            lambda: portal.query(
                "SELECT id FROM webhook_deliveries WHERE document_id = ?", invoice_id
            ),
            "a webhook message about the invoice",
            portal,
        )
        page.goto(f"{portal.url}/webhooks")
        partner.see("webhooks")
        page.locator("a[href^='/webhooks/']").filter(has_not_text="New").first.click()
        expect(page.get_by_text(f"(document {invoice_id})").first).to_be_visible()
        partner.see("delivery-log")

        # Both secrets rotated.
        page.get_by_role("button", name="Rotate the secret").click()
        expect(page.locator("#webhook-secret")).to_be_visible()
        assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
        partner.see("webhook-secret-rotated")
        page.goto(f"{portal.url}/api-clients")
        page.get_by_role("link", name="MedLink invoice bridge").click()
        page.get_by_role("button", name="Make a new secret").click()
        _totp_if_asked(page)
        new_secret = page.locator("#client-secret")
        expect(new_secret).to_be_visible()
        assert new_secret.inner_text() != secret
        partner.see("client-secret-rotated")
        context.close()


# -- a new supplier: invitation to approval ---------------------------------------------------

NEW_SUPPLIER = "Lakeside Surgical Supply LLC"
NEW_ADMIN = "owner@lakeside-surgical.example"
NEW_PASSWORD = "lakeside-password-2026"
SECOND_PROCUREMENT = f"procurement.two@{BUYER_DOMAIN}"
# The wizard's answers, by field name; the bank section comes apart (an invalid IBAN first).
PROFILE = {
    "company": {"trading_name": "Lakeside Surgical", "country": "US"},
    "tax": {"tax_id": "27-1234563"},
    "addresses": {
        f"{kind}-{key}": value
        for kind in ("ordering", "remit")
        for key, value in {
            "street": "1 Lake Shore Dr",
            "city": "Chicago",
            "region": "IL",
            "postal_code": "60601",
            "country": "US",
        }.items()
    },
    "contacts": {
        "primary-name": "Lena Lakeside",
        "primary-email": NEW_ADMIN,
        "accounts_receivable-name": "Ray Receivable",
        "accounts_receivable-email": "ar@lakeside-surgical.example",
    },
    "payment": {"currency": "USD", "accept_terms": True},
}
BAD_IBAN, IBAN, BIC = "DE81851167971317136100", "DE81851167971317136109", "SWHBDESSXXX"


def _fill(page: Page, answers: dict) -> None:
    """Type each answer into the field of that name, as the person would."""
    for name, value in answers.items():
        field = page.locator(f"[name='{name}']").first
        tag = field.evaluate("(el) => el.tagName + ':' + (el.type || '')")
        if tag.startswith("SELECT"):
            field.select_option(value)
        elif tag.endswith(("checkbox", "radio")):
            page.locator(f"[name='{name}'][value='{value}']").check() if isinstance(
                value, str
            ) else field.set_checked(value)
        else:
            field.fill(value)


def _pdf() -> bytes:
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.write(out)
    return out.getvalue()


def test_new_supplier_is_invited_onboarded_and_approved(
    journey_portal: Portal,  # noqa: F811
    browser: Browser,  # noqa: F811
):
    portal = journey_portal
    # The hospital's exclusion list (OIG LEIE layout), so the supplier's screening really runs.
    exclusions = portal.workdir / "leie.csv"
    exclusions.write_text(
        ",".join(LEIE_COLUMNS) + "\n"
        + ",,,SHADY MEDICAL SUPPLY INC,BUSINESS,DME,,0000000000,,9 Dark Rd,Reno,NV,89501,"
        "1128a1,20200115,00000000,,\n"
    )  # fmt: skip
    portal.flask("screening", "load", str(exclusions))
    portal.flask(
        "create-user", "--email", SECOND_PROCUREMENT, "--password", DEMO_PASSWORD,
        "--org", NETWORK_NAME, "--role", "procurement_admin",
    )  # fmt: skip
    office_context, office = _journey(browser, "procurement")
    desk = office.page
    _sign_in(desk, portal.url, f"procurement@{BUYER_DOMAIN}")
    desk.goto(f"{portal.url}/admin/onboarding/invitations")
    desk.get_by_label("Company legal name").fill(NEW_SUPPLIER)
    desk.get_by_label("Contact name").fill("Lena Lakeside")
    desk.get_by_label("Contact email").fill(NEW_ADMIN)
    office.see("invite")
    desk.get_by_role("button", name="Send invitation").click()
    expect(desk.get_by_text(f"Invitation sent to {NEW_ADMIN}")).to_be_visible()
    office.see("invited")

    # The invited contact follows the link in the mail, chooses a password, then a second factor.
    body = portal.query("SELECT body FROM dev_mailbox WHERE recipients LIKE ?", f"%{NEW_ADMIN}%")
    link = re.search(r"https?://\S+/enroll/\S+", body[-1][0])
    assert link, body
    context, supplier = _journey(browser, "onboarding")
    page = supplier.page
    page.goto(portal.url + "/enroll/" + link.group(0).rsplit("/enroll/", 1)[1])
    page.get_by_label("Your name").fill("Lena Lakeside")
    page.locator("[name=password]").fill(NEW_PASSWORD)
    page.locator("[name=confirm]").fill(NEW_PASSWORD)
    supplier.see("set-password")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_load_state()
    supplier.see("welcome")
    page.goto(f"{portal.url}/account/mfa/setup")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    supplier.see("two-step-setup")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step verification").click()
    page.wait_for_load_state()

    org_id = portal.query("SELECT id FROM organizations WHERE name = ?", NEW_SUPPLIER)[0][0]
    profile = f"{portal.url}/organizations/{org_id}/profile"
    for section, answers in PROFILE.items():
        page.goto(f"{profile}/{section}")
        _fill(page, answers)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()
        assert page.locator(".error").count() == 0, (
            section,
            page.locator(".error").all_inner_texts(),
        )
    page.goto(f"{profile}/bank")
    _fill(page, {"account_holder": NEW_SUPPLIER, "bank_name": "Lakeside Bank", "scheme": "IBAN"})
    _fill(page, {"iban": BAD_IBAN, "bic": BIC})
    page.get_by_role("button", name="Save and continue").click()
    # The message stands at the IBAN field itself.
    expect(page.locator(".field:has([name=iban]) .error")).to_contain_text("IBAN")
    supplier.see("invalid-iban")
    _fill(page, {"iban": IBAN})
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(f"{portal.url}/organizations/{org_id}/documents")  # the next step

    page.goto(f"{portal.url}/organizations/{org_id}/documents")
    pdf = _pdf()
    year_on = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    for kind in ("W9", "COI", "BANK_LETTER"):
        page.locator("select[name=kind]").select_option(kind)
        page.locator("input[name=file]").set_input_files(
            files=[{"name": f"{kind.lower()}.pdf", "mimeType": "application/pdf", "buffer": pdf}]
        )
        if kind == "COI":
            page.locator("input[name=expires_on]").fill(year_on)
        page.get_by_role("button", name="Upload").click()
        page.wait_for_load_state()
        errors = page.locator("p.error, .flash-error")
        assert errors.count() == 0, (kind, errors.all_inner_texts())
    expect(page.get_by_text("missing", exact=True)).to_have_count(0)
    supplier.see("documents")
    page.goto(profile)
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state()
    supplier.see("submitted")

    # Another procurement admin approves (whoever invited may not).
    approver_context, approver = _journey(browser, "procurement-approver")
    review = approver.page
    _sign_in(review, portal.url, SECOND_PROCUREMENT)
    review.goto(f"{portal.url}/admin/onboarding/{org_id}")
    approver.see("review")
    review.get_by_role("button", name="Approve").click()
    review.wait_for_load_state()
    approver.see("approved")
    wait_for(
        lambda: (
            portal.query("SELECT status FROM organizations WHERE id = ?", org_id)[0][0] == "ACTIVE"
        ),
        "the new supplier to be active",
        portal,
    )
    page.goto(f"{portal.url}/home")
    expect(page.locator("main")).to_contain_text(f"{NEW_SUPPLIER} · supplier · active")
    supplier.see("active")
    for ctx in (office_context, context, approver_context):
        ctx.close()
