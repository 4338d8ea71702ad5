"""The users' journeys in a real browser against real processes (web, worker, mock ERP, Redis
and PostgreSQL, started by the test): every page a journey loads passes axe-core, fits a 390 px
screen and logs no console error, and every step is a screenshot (docs/screenshots for the
README's tour when `make screenshots` runs them).

1. A supplier the hospital already buys from (an ERP vendor with open POs, no portal account
   yet) is invited, onboarded and approved; the same company then answers a PO, invoices two
   POs above their prices, answers finance's question and sees its invoice posted, then paid.
   Finance works the two PRICE holds: the clerk releases the one within her limit, a manager
   the one above it.
2. A partner admin signs in with company SSO, creates an API client whose secret a script uses
   to send a UBL invoice and an X12 855, follows both in the portal and in its webhook delivery
   log, then rotates both secrets.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfWriter

from app.demo import BUYER_DOMAIN, DEMO_PASSWORD, NETWORK_NAME, SUSPENDED_VENDOR
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder, PurchaseOrderLine
from app.erp.mock.catalog import VENDORS
from app.onboarding.screening import LEIE_COLUMNS
from tests.e2e.journeys import (  # noqa: F401
    AXE,
    DESKTOP,
    Journey,
    Portal,
    give_code,
    journey_portal,
    sign_in,
    turn_on_two_step,
    wait_for,
    watch_console,
)
from tests.e2e.test_demo_in_browser import browser  # noqa: F401
from tests.oidc.harness import OidcProvider

pytestmark = [pytest.mark.slow, pytest.mark.browser]

FINANCE_RELEASE_LIMIT = Decimal(500)  # the journey portal's (journeys.py)
OVER_BY = 600  # what the big invoice asks beyond its PO's price, in all
PAYMENT_REFERENCE = "PAY-JRN-0001"


def _journey(browser: Browser, name: str, portal: Portal) -> tuple[BrowserContext, Journey]:  # noqa: F811
    # axe-core is loaded the way the browser's automation loads scripts, so the portal's CSP
    # (which allows no inline script) neither blocks it nor reports it.
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    return context, Journey(name, page, watch_console(page), portal.url)


def _state(portal: Portal, document_id: int) -> str:
    return portal.query("SELECT state FROM documents WHERE id = %s", document_id)[0][0]


def _document_id(page: Page) -> int:
    """The id of the document page the browser is on (a form's failure shows its errors)."""
    match = re.search(r"/documents/(\d+)$", page.url)
    assert match, (page.url, page.locator(".error, .flash, [role=alert]").all_inner_texts())
    return int(match.group(1))


def _pdf() -> bytes:
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.write(out)
    return out.getvalue()


# -- a supplier: from an invitation to a payment, and finance's two holds ----------------------

# An ERP vendor of the hospital with open POs that no demo organization holds: the company
# procurement invites to the portal. Onboarding finds its vendor by the tax id and links it.
SUPPLIER = VENDORS[5]
SUPPLIER_ADMIN = f"lena.brandt@{SUPPLIER.email_domain}"
SUPPLIER_PASSWORD = "halvorsen-password-2026"
SECOND_PROCUREMENT = f"procurement.two@{BUYER_DOMAIN}"
# Big and small in what is at risk (the price's excess over the PO), not in their totals.
BIG_INVOICE, SMALL_INVOICE = "HMT-2026-0417", "HMT-2026-0418"
# The wizard's answers, by field name, as the company's record in the ERP has them; the bank
# section comes apart (an invalid IBAN first).
PROFILE = {
    "company": {"trading_name": "Halvorsen Medizintechnik", "country": SUPPLIER.country},
    "tax": {"tax_id": SUPPLIER.tax_id},
    "addresses": {
        f"{kind}-{key}": value
        for kind in ("ordering", "remit")
        for key, value in {
            "street": SUPPLIER.street,
            "city": SUPPLIER.city,
            "region": SUPPLIER.region,
            "postal_code": SUPPLIER.postal_code,
            "country": SUPPLIER.country,
        }.items()
    },
    "contacts": {
        "primary-name": "Lena Brandt",
        "primary-email": SUPPLIER_ADMIN,
        "accounts_receivable-name": "Jonas Weber",
        "accounts_receivable-email": f"buchhaltung@{SUPPLIER.email_domain}",
    },
    "payment": {"currency": SUPPLIER.currency, "accept_terms": True},
}
IBAN, BIC = SUPPLIER.remit_to.account, SUPPLIER.remit_to.bank_code
BAD_IBAN = IBAN[:-1] + str((int(IBAN[-1]) + 1) % 10)  # one digit wrong: the check digits fail
SUPPORTING_DOCUMENTS = ("W8", "COI", "BANK_LETTER")  # a company outside the US: a W-8


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


def _open_orders_to_invoice(portal: Portal) -> tuple[PurchaseOrder, PurchaseOrder]:
    """Two open POs of the supplier with two lines or more, the first worth enough beyond its
    first line that billing that line over the limit stays within the PO's total (one hold:
    the price). The hospital's dock then receives all of each one's first line (the ERP's
    admin API), so that line can be invoiced."""
    orders = [
        order
        for order in portal.erp.client().list_purchase_orders(vendor_number=SUPPLIER.number)
        if order.status in OPEN_PO_STATUSES and len(order.lines) >= 2
    ]
    big = next(
        order
        for order in orders
        if sum(line.quantity * line.unit_price for line in order.lines[1:]) > 2 * OVER_BY
    )
    small = next(order for order in orders if order is not big)
    for order in (big, small):
        first = order.lines[0]
        received = portal.erp.admin(
            "POST",
            f"/admin/purchase-orders/{order.number}/receipts",
            {"line_number": first.line_number, "quantity": str(first.quantity)},
        )
        assert received.status_code == 201, received.text
    return big, small


def _invite_and_onboard(
    portal: Portal,
    browser: Browser,  # noqa: F811
) -> tuple[Journey, list[BrowserContext]]:
    """Procurement invites the company; its contact sets a password and two-step verification,
    fills in the profile (an invalid IBAN refused at the field, then fixed), uploads the
    supporting documents and submits; a second procurement admin approves, and the vendor job
    links the company to its ERP vendor. Answers the supplier's journey and the contexts."""
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
    office_context, office = _journey(browser, "procurement", portal)
    desk = office.page
    sign_in(office, f"procurement@{BUYER_DOMAIN}")
    office.goto("/admin/onboarding/invitations", "invitations")
    desk.get_by_label("Company legal name").fill(SUPPLIER.name)
    desk.get_by_label("Contact name").fill("Lena Brandt")
    desk.get_by_label("Contact email").fill(SUPPLIER_ADMIN)
    office.see("invite")
    desk.get_by_role("button", name="Send invitation").click()
    expect(desk.get_by_text(f"Invitation sent to {SUPPLIER_ADMIN}")).to_be_visible()
    office.see("invited")
    office.done()

    # The invited contact follows the link in the mail, chooses a password, then a second factor.
    body = portal.query(
        "SELECT body FROM dev_mailbox WHERE recipients::text LIKE %s ORDER BY id",
        f"%{SUPPLIER_ADMIN}%",
    )
    link = re.search(r"https?://\S+/enroll/\S+", body[-1][0])
    assert link, body
    context, supplier = _journey(browser, "onboarding", portal)
    page = supplier.page
    supplier.goto("/enroll/" + link.group(0).rsplit("/enroll/", 1)[1], "enrolment")
    page.get_by_label("Your name").fill("Lena Brandt")
    page.locator("[name=password]").fill(SUPPLIER_PASSWORD)
    page.locator("[name=confirm]").fill(SUPPLIER_PASSWORD)
    supplier.see("set-password")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_load_state()
    supplier.see("welcome")
    supplier.goto("/account/mfa/setup", None)
    supplier.see("two-step-setup")
    turn_on_two_step(supplier, SUPPLIER_ADMIN, what=None)
    supplier.check("two-step turned on")

    org_id = portal.query("SELECT id FROM organizations WHERE name = %s", SUPPLIER.name)[0][0]
    profile = f"/organizations/{org_id}/profile"
    supplier.goto(f"{profile}/company", "profile: company")
    for section, answers in PROFILE.items():  # each section's "Save" opens the next one
        assert page.url.endswith(f"{profile}/{section}"), (section, page.url)
        _fill(page, answers)
        supplier.check(f"profile: {section}, filled in")
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()
        assert page.locator(".error").count() == 0, (
            section,
            page.locator(".error").all_inner_texts(),
        )
        supplier.check(f"profile: after {section}")
    assert page.url.endswith(f"{profile}/bank"), page.url
    _fill(page, {"account_holder": SUPPLIER.name, "bank_name": SUPPLIER.remit_to.bank_name})
    _fill(page, {"scheme": "IBAN"})
    _fill(page, {"iban": BAD_IBAN, "bic": BIC})
    with supplier.refused(422):
        page.get_by_role("button", name="Save and continue").click()
        # The message stands at the IBAN field itself.
        expect(page.locator(".field:has([name=iban]) .error")).to_contain_text("IBAN")
    supplier.see("invalid-iban")
    _fill(page, {"iban": IBAN})
    supplier.check("profile: bank, valid")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(f"{portal.url}/organizations/{org_id}/documents")  # the next step
    supplier.check("supporting documents")

    pdf = _pdf()
    year_on = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    for kind in SUPPORTING_DOCUMENTS:
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
        if kind != SUPPORTING_DOCUMENTS[-1]:
            supplier.check(f"supporting documents: {kind} uploaded")
    expect(page.get_by_text("missing", exact=True)).to_have_count(0)
    supplier.see("documents")
    supplier.goto(profile, "profile summary")
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state()
    supplier.see("submitted")

    # Another procurement admin approves (whoever invited may not).
    approver_context, approver = _journey(browser, "procurement-approver", portal)
    review = approver.page
    sign_in(approver, SECOND_PROCUREMENT)
    approver.goto(f"/admin/onboarding/{org_id}", None)
    approver.see("review")
    review.get_by_role("button", name="Approve").click()
    review.wait_for_load_state()
    approver.see("approved")
    approver.done()
    # The vendor job finds the ERP's vendor by the tax id and links the company to it.
    wait_for(
        lambda: (
            portal.query(
                "SELECT status, erp_vendor_number FROM organizations WHERE id = %s", org_id
            )
            == [("ACTIVE", SUPPLIER.number)]
        ),
        "the new supplier to be active, linked to its ERP vendor",
        portal,
    )
    supplier.goto("/home", None)
    expect(page.locator("main")).to_contain_text(f"{SUPPLIER.name} · supplier · active")
    supplier.see("active")
    return supplier, [office_context, context, approver_context]


def _invoice(
    supplier: Journey,
    order: PurchaseOrder,
    number: str,
    price_of: Callable[[PurchaseOrderLine, Decimal], Decimal],
) -> None:
    """From the PO's page, the invoice form filled in (not sent): only the line with something
    left to invoice, at `price_of(line, quantity left)`."""
    page = supplier.page
    supplier.goto(f"/purchase-orders/{order.number}", f"purchase order {order.number}")
    page.get_by_role("link", name="Invoice this order").click()
    page.wait_for_load_state()
    left = {
        line.line_number: Decimal(
            page.get_by_label(f"Quantity for line {line.line_number}").input_value() or 0
        )
        for line in order.lines
    }
    billed = next(line for line in order.lines if left[line.line_number] > 0)
    price = price_of(billed, left[billed.line_number])
    page.get_by_label("Invoice number").fill(number)
    for line in order.lines:
        box = page.get_by_label(f"Invoice line {line.line_number}", exact=True)
        box.set_checked(line is billed)
    page.get_by_label(f"Unit price for line {billed.line_number}").fill(f"{price:.2f}")


def _above_the_limit(line: PurchaseOrderLine, quantity: Decimal) -> Decimal:
    """Over the PO price by more than the clerk's release limit in all."""
    return line.unit_price + Decimal(math.ceil(OVER_BY / quantity))


def _within_the_limit(line: PurchaseOrderLine, quantity: Decimal) -> Decimal:
    """A few percent over the PO price (any excess is held), less than the limit in all."""
    extra = min(line.unit_price * Decimal("0.04"), FINANCE_RELEASE_LIMIT / 2 / quantity)
    return line.unit_price + max(extra.quantize(Decimal("0.01"), ROUND_DOWN), Decimal("0.01"))


def _sign_out(journey: Journey) -> None:
    journey.page.get_by_role("button", name="Sign out").click()
    journey.page.wait_for_url(f"{journey.base_url}/login")
    journey.check("signed out")


@pytest.mark.timeout(420)
def test_supplier_from_invitation_to_payment_and_finance_resolves_its_price_holds(
    journey_portal: Portal,  # noqa: F811
    browser: Browser,  # noqa: F811
):
    portal = journey_portal
    assert SUPPLIER is not SUSPENDED_VENDOR
    taken = portal.query(
        "SELECT name FROM organizations WHERE erp_vendor_number = %s OR name = %s",
        SUPPLIER.number,
        SUPPLIER.name,
    )
    assert taken == [], f"the demo data now holds {SUPPLIER.name}: choose another ERP vendor"
    supplier, contexts = _invite_and_onboard(portal, browser)
    page = supplier.page
    big_order, small_order = _open_orders_to_invoice(portal)
    first, second = big_order.lines[0], big_order.lines[1]

    # -- the next day, the same company: its POs, an acknowledgment, then two invoices ---------
    _sign_out(supplier)
    supplier.chapter("supplier")
    sign_in(supplier, SUPPLIER_ADMIN, SUPPLIER_PASSWORD, step="home")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchase orders").click()
    expect(page.get_by_role("link", name=big_order.number)).to_be_visible()
    supplier.see("purchase-orders")
    page.get_by_role("link", name=big_order.number).click()
    expect(page.get_by_role("heading", name=f"Purchase order {big_order.number}")).to_be_visible()
    supplier.see("purchase-order")

    page.get_by_label(f"Answer for line {first.line_number}").select_option("accept")
    page.get_by_label(f"Answer for line {second.line_number}").select_option("change")
    later = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=21)  # in the future, always
    page.get_by_label(f"Delivery date for line {second.line_number}").fill(later.isoformat())
    page.get_by_label(f"Why, for line {second.line_number}").fill("Back in stock in three weeks")
    supplier.check("acknowledgment filled in")
    page.get_by_role("button", name="Send acknowledgment").click()
    ack_id = _document_id(page)
    supplier.check("acknowledgment")
    wait_for(lambda: _state(portal, ack_id) in ("APPLIED", "ON_HOLD"), "the acknowledgment", portal)
    page.reload()
    expect(page.get_by_role("cell", name="Back in stock in three weeks")).to_be_visible()
    expect(page.get_by_text(later.isoformat()).first).to_be_visible()
    supplier.see("acknowledgment-sent")

    _invoice(supplier, big_order, BIG_INVOICE, _above_the_limit)
    supplier.see("invoice-form")
    page.get_by_role("button", name="Send invoice").click()
    invoice_id = _document_id(page)
    supplier.check("invoice sent")
    wait_for(lambda: _state(portal, invoice_id) == "ON_HOLD", "the PRICE hold", portal)
    page.reload()
    expect(page.locator(".state-words")).to_contain_text("review")
    supplier.see("in-review")
    # A second PO, a few euros over its price: held too, within what a clerk may release.
    _invoice(supplier, small_order, SMALL_INVOICE, _within_the_limit)
    supplier.check("second invoice form")
    page.get_by_role("button", name="Send invoice").click()
    small_id = _document_id(page)
    supplier.check("second invoice sent")
    wait_for(lambda: _state(portal, small_id) == "ON_HOLD", "the second PRICE hold", portal)
    assert portal.query(
        "SELECT code, amount_at_risk <= %s FROM holds WHERE document_id IN (%s, %s)"
        " ORDER BY document_id",
        FINANCE_RELEASE_LIMIT,
        invoice_id,
        small_id,
    ) == [("PRICE", False), ("PRICE", True)]

    # -- the finance clerk: PRICE holds, the variance, a question ---------------------------
    clerk_context, clerk = _journey(browser, "finance", portal)
    contexts.append(clerk_context)
    desk = clerk.page
    sign_in(clerk, f"finance.clerk@{BUYER_DOMAIN}", step="home")
    clerk.goto("/finance/holds", "finance queue")
    desk.locator("form.filters select[name=code]").select_option("PRICE")
    desk.get_by_role("button", name="Filter").click()
    expect(desk.get_by_role("link", name=BIG_INVOICE)).to_be_visible()
    expect(desk.get_by_role("link", name=SMALL_INVOICE)).to_be_visible()
    clerk.see("price-holds")
    # The keyboard: j moves down the queue (newest first: the small one, then this one),
    # Enter opens the row.
    desk.keyboard.press("j")
    desk.keyboard.press("j")
    expect(desk.locator(".queue-row.focused")).to_contain_text(BIG_INVOICE)
    desk.keyboard.press("Enter")
    desk.wait_for_url(re.compile(rf"/finance/invoices/{invoice_id}(\?|$)"))
    expect(desk.locator(".side-by-side td.variance").first).to_be_visible()
    clerk.see("invoice-variance")
    desk.get_by_label("Question for the supplier").fill(
        "Your price is above the PO's. Was a price increase agreed, and with whom?"
    )
    desk.get_by_role("button", name="Ask", exact=True).click()
    expect(desk.get_by_text("waiting for the supplier")).to_be_visible()
    clerk.see("asked")

    # -- the supplier answers ------------------------------------------------------------
    supplier.goto(f"/documents/{invoice_id}", None)
    expect(page.get_by_text("Needs your answer.")).to_be_visible()
    supplier.see("question")
    page.get_by_label("Your answer").fill("Yes: the new list price agreed with procurement.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text("the new list price agreed").first).to_be_visible()
    supplier.see("answered")

    # -- the clerk may not release above the limit; the manager does ------------------------
    desk.reload()
    expect(desk.get_by_text("the new list price agreed").first).to_be_visible()
    clerk.check("the supplier's answer")
    desk.keyboard.press("r")  # the shortcut puts the cursor in the release reason
    desk.keyboard.type("Price increase agreed with procurement.")
    with clerk.refused(400):
        desk.get_by_role("button", name="Release").first.click()
        expect(desk.get_by_role("alert")).to_contain_text("manager")
    clerk.see("release-above-limit")

    manager_context, manager = _journey(browser, "finance-manager", portal)
    contexts.append(manager_context)
    office = manager.page
    sign_in(manager, f"finance.manager@{BUYER_DOMAIN}")
    manager.goto(f"/finance/invoices/{invoice_id}", "the invoice")
    office.get_by_label("Why release it").first.fill("Price increase agreed with procurement.")
    with office.expect_navigation():  # the release form posts, then lands on the invoice again
        office.get_by_role("button", name="Release").first.click()
    manager.check("released")
    wait_for(lambda: _state(portal, invoice_id) in ("POSTED", "PAID"), "posting", portal)
    office.reload()
    manager.see("released")
    manager.done()

    # The clerk's page is the refused release's answer: she opens the invoice again.
    clerk.goto(f"/finance/invoices/{invoice_id}", None)
    expect(desk.locator("h1")).to_contain_text("posted", ignore_case=True)
    clerk.see("posted")

    # -- the clerk releases the other one herself (within her limit), by the keyboard ---------
    clerk.goto("/finance/holds?code=PRICE", "PRICE holds")
    expect(desk.get_by_role("link", name=BIG_INVOICE)).to_have_count(0)
    desk.keyboard.press("j")
    expect(desk.locator(".queue-row.focused")).to_contain_text(SMALL_INVOICE)
    desk.keyboard.press("Enter")
    desk.wait_for_url(re.compile(rf"/finance/invoices/{small_id}(\?|$)"))
    expect(desk.locator(".side-by-side td.variance").first).to_be_visible()
    clerk.check("the second invoice")
    desk.keyboard.press("r")
    desk.keyboard.type("A few euros: within tolerance for this vendor's freight surcharge.")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Release").first.click()
    clerk.check("released within the limit")
    wait_for(lambda: _state(portal, small_id) in ("POSTED", "PAID"), "posting", portal)
    desk.reload()
    expect(desk.locator("h1")).to_contain_text("posted", ignore_case=True)
    clerk.see("released-within-limit")
    clerk.done()

    # -- posted, then paid: the ERP pays it and the payment sync tells the portal ---------------
    page.reload()
    expect(page.locator(".state-words")).to_contain_text("osted")
    supplier.see("posted")
    ap_invoice_id = portal.query(
        "SELECT erp_ap_invoice_id FROM posting_attempts WHERE document_id = %s"
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
    # The worker's sweep asks the ERP too (PAYMENT_SYNC_MINUTES=0): whichever comes first.
    portal.flask("posting", "sync-payments")
    wait_for(lambda: _state(portal, invoice_id) == "PAID", "the payment", portal)
    page.reload()
    expect(page.locator(".state-words")).to_contain_text(
        f"Paid on {paid_on.isoformat()}, reference {PAYMENT_REFERENCE}"
    )
    supplier.see("paid")
    supplier.done()

    for context in contexts:
        context.close()


# -- the partner admin ----------------------------------------------------------------------

PARTNER_EMAIL = "admin@medlink.example"
PROVIDER_PASSWORD = "medlink-idp-password"
SSO_CLIENT = ("portal", "portal-client-secret")
ACKNOWLEDGMENT_EVENT = "acknowledgment.applied"
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
        "SELECT id FROM organizations WHERE erp_vendor_number = %s", VENDORS[0].number
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


def _totp_if_asked(journey: Journey) -> None:
    """Creating or rotating a secret asks for a fresh second factor: set one up, or give it."""
    if "/account/mfa/setup" in journey.page.url:
        turn_on_two_step(journey, PARTNER_EMAIL)
    elif "/account/mfa/verify" in journey.page.url:
        give_code(journey, PARTNER_EMAIL)


def _subscribe_to_acknowledgments(partner: Journey) -> str:
    """The partner's webhook endpoint also sends acknowledgment.applied; answers its path."""
    page = partner.page
    partner.goto("/webhooks", "webhooks")
    endpoint = page.locator("a[href^='/webhooks/']").filter(has_not_text="New").first
    path = endpoint.get_attribute("href")
    assert path, "no webhook endpoint"
    endpoint.click()
    page.wait_for_load_state()
    partner.check("webhook endpoint")
    page.locator(f"input[name=event_types][value='{ACKNOWLEDGMENT_EVENT}']").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    partner.check("webhook endpoint saved")
    expect(page.locator(f"input[value='{ACKNOWLEDGMENT_EVENT}']")).to_be_checked()
    return path


@pytest.mark.timeout(240)
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
        context, partner = _journey(browser, "partner", portal)
        page = partner.page
        partner.goto("/login", "sign-in: email")
        page.get_by_label("Email").fill(PARTNER_EMAIL)
        # The portal's page sends the browser on to the provider at once (a meta refresh):
        # the provider answers nothing the first time (204: the page stays), so the page can
        # be checked, then its link is followed as someone whose browser does not refresh.
        provider = f"{idp.issuer}/**"
        page.route(provider, lambda route: route.fulfill(status=204))
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Continuing to MedLink SSO")).to_be_visible()
        partner.check("continuing to the company's sign-in")
        page.unroute(provider)
        page.get_by_role("link", name="Continue to MedLink SSO").click()
        page.wait_for_url(provider)
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
        partner.goto("/api-clients", None)
        partner.see("api-clients")
        partner.goto("/api-clients/new", None)
        _totp_if_asked(partner)
        if not page.url.endswith("/api-clients/new"):
            partner.check("after two-step verification")
            partner.goto("/api-clients/new", "new API client")
        page.get_by_label("Name").fill("MedLink purchasing bridge")
        for box in page.locator("fieldset input[type=checkbox]").all():
            box.check()
        partner.see("new-api-client")
        page.get_by_role("button", name="Create client").click()
        client_id = page.locator("dd code").first.inner_text()
        secret = page.locator("#client-secret").inner_text()
        partner.see("client-secret")

        # Its webhook endpoint is to tell it about acknowledgments too, not only invoices.
        endpoint_path = _subscribe_to_acknowledgments(partner)

        # The partner's script sends an invoice and an acknowledgment with that secret.
        sent = _send_as_partner(portal, client_id, secret)
        invoice_id, ack_id = sent["ubl"], sent["x12-855"]
        for document_id in sent.values():
            wait_for(
                lambda d=document_id: _state(portal, d) not in ("RECEIVED", "NORMALIZED"),
                f"document {document_id} to be read",
                portal,
            )
        concluded = ("APPLIED", "ON_HOLD", "REJECTED")
        wait_for(lambda: _state(portal, ack_id) in concluded, "the 855 to be applied", portal)
        assert _state(portal, ack_id) == "APPLIED", _state(portal, ack_id)
        partner.goto("/documents", None)
        for document_id in sent.values():
            expect(page.locator(f"a[href='/documents/{document_id}']").first).to_be_visible()
        partner.see("documents")
        partner.goto(f"/documents/{invoice_id}", None)
        partner.see("invoice")

        # Its webhook endpoint was told about both: the delivery log shows the two messages.
        for document_id, what in ((invoice_id, "invoice"), (ack_id, "acknowledgment")):
            wait_for(
                lambda d=document_id: portal.query(
                    "SELECT event_type FROM webhook_deliveries WHERE document_id = %s", d
                ),
                f"a webhook message about the {what}",
                portal,
            )
        assert portal.query(
            "SELECT event_type FROM webhook_deliveries WHERE document_id = %s", ack_id
        ) == [(ACKNOWLEDGMENT_EVENT,)]
        partner.goto("/webhooks", None)
        partner.see("webhooks")
        page.locator(f"a[href='{endpoint_path}']").first.click()
        page.wait_for_load_state()
        log = page.locator("table.delivery-log")
        expect(log.get_by_text(f"(document {invoice_id})").first).to_be_visible()
        expect(log.get_by_text(f"{ACKNOWLEDGMENT_EVENT} (document {ack_id})").first).to_be_visible()
        partner.see("delivery-log", show=page.get_by_role("heading", name="Delivery log"))

        # The 855 itself: the PO lines it answered.
        partner.goto(f"/documents/{ack_id}", None)
        expect(page.locator("h1")).to_contain_text("cknowledgment")
        partner.see("acknowledgment")

        # Both secrets rotated.
        partner.goto(endpoint_path, "webhook endpoint")
        page.get_by_role("button", name="Rotate the secret").click()
        _totp_if_asked(partner)
        expect(page.locator("#webhook-secret")).to_be_visible()
        assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
        partner.see("webhook-secret-rotated")
        partner.goto("/api-clients", "API clients")
        page.get_by_role("link", name="MedLink purchasing bridge").click()
        page.wait_for_load_state()
        partner.check("the API client")
        page.get_by_role("button", name="Make a new secret").click()
        _totp_if_asked(partner)
        new_secret = page.locator("#client-secret")
        expect(new_secret).to_be_visible()
        assert new_secret.inner_text() != secret
        partner.see("client-secret-rotated")
        partner.done()
        context.close()
