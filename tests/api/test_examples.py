"""Example documents in every format, downloaded where a newcomer finds them (the supplier's
upload page, the public API docs page), sent back and seen go through (invoices validated,
the acknowledgment applied), also after the demo data billed most of the demo supplier's
goods; and the API docs' curl commands, run as printed against the live portal."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from html import unescape

import pytest
import requests
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.api.docs import operations
from app.api.openapi import EXAMPLE_ACKNOWLEDGMENT
from app.api.openapi import document as document_spec
from app.db import db, unit_of_work
from app.demo import seed_demo
from app.documents.models import DocumentState
from app.erp.mock.catalog import VENDORS
from app.matching.models import Hold
from app.orgs.models import Organization
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.oauth import ApiClientFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import bearer, document, run_jobs

FORMATS = {"json", "ubl", "cxml", "x12-810", "x12-855", "csv"}
# Where an example ends when it went through: an invoice validated (posted, when the ERP stage
# ran), an acknowledgment applied to the ERP's PO. ON_HOLD is not through.
THROUGH = {
    "invoice": {DocumentState.VALIDATED, DocumentState.POSTED},
    "acknowledgment": {DocumentState.APPLIED},
}


def _links(html: str, prefix: str) -> dict[str, str]:
    """Example links on a page: format key -> URL."""
    page = BeautifulSoup(html, "html.parser")
    return {
        a["href"].rsplit("/", 1)[-1]: a["href"]
        for a in page.select("ul.examples a")
        if a["href"].startswith(prefix)
    }


def _kind(key: str) -> str:
    return "acknowledgment" if key == "x12-855" else "invoice"


def _assert_through(document_id: int, key: str) -> None:
    """Run the pipeline, as a worker would, before the next example is downloaded: each one is
    built from what the earlier ones left to invoice."""
    run_jobs()
    stored = document(document_id)
    holds = db.session.scalars(select(Hold.code).where(Hold.document_id == document_id)).all()
    assert stored.state in THROUGH[_kind(key)], (key, stored.state, stored.errors, holds)


@pytest.fixture
def demo_supplier():
    # The demo data's first supplier, as seed-demo makes it (its POs are in the mock ERP).
    return OrganizationFactory(supplier=True, erp_vendor_number=VENDORS[0].number)


def test_a_supplier_downloads_every_example_from_its_upload_page_and_sends_it(client, portal_erp):
    acme = OrganizationFactory(supplier=True, erp_vendor_number="V1006")
    UserFactory(email="ap@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@acme.example", PASSWORD)
    page = client.get("/documents/upload").get_data(as_text=True)
    links = _links(page, "/documents/upload/examples/")
    assert set(links) == FORMATS

    for key, url in links.items():
        download = client.get(url)
        assert download.status_code == 200, key
        filename = re.search(r'filename="([^"]+)"', download.headers["Content-Disposition"])[1]
        assert "V1006" in download.get_data(as_text=True) or key == "ubl", key
        token = csrf_token(client.get("/documents/upload").get_data(as_text=True))
        answer = client.post(
            "/documents/upload",
            data={
                "csrf_token": token,
                "kind": _kind(key),
                "file": (io.BytesIO(download.data), filename),
            },
            content_type="multipart/form-data",
        )
        assert answer.status_code == 302, (key, answer.get_data(as_text=True))
        _assert_through(int(answer.headers["Location"].rsplit("/", 1)[-1]), key)


def test_a_supplier_without_an_open_po_is_told_why_there_is_no_example(client, portal_erp):
    lone = OrganizationFactory(supplier=True)  # no vendor number: no POs in the ERP
    UserFactory(email="ap@lone.example", role=Role.SUPPLIER_USER, role__organization=lone)
    login(client, "ap@lone.example", PASSWORD)
    answer = client.get("/documents/upload/examples/ubl")
    assert answer.status_code == 404
    assert "no open purchase order" in answer.get_data(as_text=True)


def _send_every_api_docs_example(client, supplier) -> None:
    page = client.get("/api/docs").get_data(as_text=True)
    links = _links(page, "/api/docs/examples/")
    assert set(links) == FORMATS
    headers = bearer(supplier)
    for key, url in links.items():
        download = client.get(url)
        assert download.status_code == 200, key
        answer = client.post(
            f"/api/v1/{_kind(key)}s",
            data=download.data,
            headers={**headers, "Content-Type": download.headers["Content-Type"]},
        )
        assert answer.status_code == 202, (key, answer.json)
        (entry,) = answer.json["documents"]
        _assert_through(entry["id"], key)


def test_the_api_docs_offer_every_example_for_a_demo_po_and_each_goes_through(
    client, portal_erp, demo_supplier
):
    _send_every_api_docs_example(client, demo_supplier)


def test_after_seed_demo_the_api_docs_examples_still_go_through(client, portal_erp):
    """The demo invoices bill most of the first supplier's received goods; the examples bill
    what they left, not quantities already invoiced (which would be held)."""
    portal_erp.reset()  # the demo's invoice numbers are fixed; an earlier seed may have posted them
    with unit_of_work():
        seed_demo()
    run_jobs()
    supplier = db.session.scalar(
        select(Organization).where(Organization.erp_vendor_number == VENDORS[0].number)
    )
    _send_every_api_docs_example(client, supplier)
    portal_erp.reset()


def test_without_demo_data_the_docs_page_sends_suppliers_to_their_upload_page(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "Send a file" in page
    assert client.get("/api/docs/examples/ubl").status_code == 404


# -- curl --------------------------------------------------------------------------------------


def _blocks(html: str) -> list[str]:
    page = BeautifulSoup(html, "html.parser")
    return [unescape(pre.get_text()) for pre in page.select("pre.curl")]


def _shell(script: str, cwd, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_the_quick_start_and_every_curl_example_work_as_printed(
    live_server, portal_erp, demo_supplier, tmp_path
):
    client = ApiClientFactory(organization=demo_supplier)
    env = {"CLIENT_ID": client.client_id, "CLIENT_SECRET": client.secret}
    html = requests.get(f"{live_server.url}/api/docs", timeout=10).text
    quick_start, *per_operation = _blocks(html)
    ubl = requests.get(f"{live_server.url}/api/docs/examples/ubl", timeout=30)
    (tmp_path / "invoice.xml").write_bytes(ubl.content)

    ran = _shell(quick_start, tmp_path, env)
    assert ran.returncode == 0, ran.stderr
    polled = json.loads(ran.stdout.splitlines()[-1])
    assert polled["state"] == "RECEIVED"  # no worker here; the intake test follows it further

    json_example = requests.get(f"{live_server.url}/api/docs/examples/json", timeout=30)
    (tmp_path / "invoice.json").write_bytes(json_example.content)
    (tmp_path / "acknowledgment.json").write_text(json.dumps(EXAMPLE_ACKNOWLEDGMENT))
    token = requests.post(
        f"{live_server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
        timeout=10,
    ).json()["access_token"]
    env |= {"TOKEN": token, "DOCUMENT_ID": str(polled["id"])}
    commands = list(zip(operations(document_spec()), per_operation, strict=True))
    # Revoking the token goes last: every other command needs it.
    for op, command in sorted(commands, key=lambda pair: "/oauth/revoke" in pair[1]):
        ours = _provide_inputs(op, command, tmp_path, env)
        ran = _shell(f"{command} -o /dev/null -w '%{{http_code}}'", tmp_path, env)
        assert ran.returncode == 0, (command, ran.stderr)
        status = ran.stdout
        assert status in op["responses"], (command, status)
        assert not status.startswith("5"), (command, status)
        if ours:  # inputs this portal made (a token, its own document, an example file)
            assert status.startswith("2"), (command, status)
    assert len(commands) >= 12


KNOWN = {"TOKEN", "CLIENT_ID", "CLIENT_SECRET", "DOCUMENT_ID"}
OUR_FILES = {"invoice.json", "acknowledgment.json"}


def _provide_inputs(op, command: str, folder, env: dict[str, str]) -> bool:
    """Fill what a command names that the test did not make (another endpoint's id, a body the
    document only exemplifies): then only a documented answer can be asked of it."""
    ours = True
    for variable in set(re.findall(r"\$([A-Z_]+)", command)) - KNOWN:
        env[variable] = "1"
        ours = False
    for name in re.findall(r"@([\w.-]+)", command):
        if name not in OUR_FILES:
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            (folder / name).write_text(json.dumps(content.get("example", {})))
            ours = False
    return ours
