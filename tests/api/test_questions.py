"""A question accounts payable asked about a held invoice, from the supplier's side: its lists,
PO page and document page say the invoice needs the supplier's answer (not "in review"); the
API shows the questions with the document and takes the answer; nobody else sees or answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.documents.models import DocumentState
from app.holds import services
from app.holds.models import Question
from app.orgs.models import ConnectionScope
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.intake.helpers import bearer, document, run_jobs
from tests.matching.test_validate import invoice_for, lakeside, received_po, send  # noqa: F401

JSON = {"Content-Type": "application/json"}
ASKED = "Which delivery note covers these units?"


@pytest.fixture
def held(client, lakeside, portal_erp) -> int:  # noqa: F811 - the fixture imported above
    """An invoice at three times the PO price: held for PRICE."""
    document_id = send(
        client, lakeside, invoice_for(lakeside, received_po(portal_erp), "QA-1", price_factor="3")
    )
    run_jobs()
    assert document(document_id).state is DocumentState.ON_HOLD
    return document_id


@pytest.fixture
def question(held) -> Question:
    clerk = UserFactory(role=Role.FINANCE_CLERK)
    asked = services.ask(document(held), clerk, ASKED)
    db.session.commit()
    return asked


def _supplier(client, org, email="ap@lakeside.example"):
    UserFactory(email=email, role=Role.SUPPLIER_USER, role__organization=org)
    login(client, email, PASSWORD)
    return client


def _answer(client, auth, document_id, question_id, body):
    return client.post(
        f"/api/v1/documents/{document_id}/questions/{question_id}/answer",
        json=body,
        headers=auth,
    )


# -- the portal's words ----------------------------------------------------------------------


def test_held_without_a_question_reads_in_review(client, lakeside, held):  # noqa: F811
    _supplier(client, lakeside)
    assert 'badge-on_hold">in review</span>' in client.get("/documents").get_data(as_text=True)
    assert "Answer the question" not in client.get("/documents").get_data(as_text=True)


def test_an_unanswered_question_reads_needs_your_answer_everywhere_until_answered(
    client,
    lakeside,  # noqa: F811
    portal_erp,
    held,
    question,
):
    _supplier(client, lakeside)
    anchor = f'href="/documents/{held}#questions">Answer the question</a>'
    listing = client.get("/documents").get_data(as_text=True)
    assert 'badge-on_hold">needs your answer</span>' in listing
    assert anchor in listing
    order = received_po(portal_erp)
    po_page = client.get(f"/purchase-orders/{order.number}").get_data(as_text=True)
    assert 'badge-on_hold">needs your answer</span>' in po_page
    assert anchor in po_page
    page = client.get(f"/documents/{held}").get_data(as_text=True)
    assert "Needs your answer: the hospital&#39;s accounts payable team asked you" in page
    assert 'id="questions"' in page
    assert ASKED in page

    sent = client.post(
        f"/documents/{held}/questions/{question.id}/answer",
        data={"csrf_token": csrf_token(page), "answer": "DN-5531"},
    )
    assert sent.status_code == 302
    listing = client.get("/documents").get_data(as_text=True)
    assert 'badge-on_hold">in review</span>' in listing
    assert "Answer the question" not in listing
    assert "In review" in client.get(f"/documents/{held}").get_data(as_text=True)


def test_another_suppliers_list_never_says_so(app, client, held, question):
    other = OrganizationFactory(supplier=True)
    _supplier(client, other, email="ap@other.example")
    listing = client.get("/documents").get_data(as_text=True)
    assert "needs your answer" not in listing
    assert client.get(f"/documents/{held}").status_code == 404


# -- the API ---------------------------------------------------------------------------------


def test_the_document_lists_its_questions_for_its_supplier(client, lakeside, held, question):  # noqa: F811
    detail = client.get(f"/api/v1/documents/{held}", headers=bearer(lakeside)).json
    (listed,) = detail["questions"]
    assert listed["id"] == question.id
    assert listed["question"] == ASKED
    assert listed["asked_at"].endswith("Z")
    assert (listed["answered"], listed["answer"], listed["answered_at"]) == (False, None, None)
    assert listed["answer_href"] == (f"/api/v1/documents/{held}/questions/{question.id}/answer")
    assert "asked_by" not in listed
    stranger = bearer(OrganizationFactory(supplier=True))
    assert client.get(f"/api/v1/documents/{held}", headers=stranger).status_code == 404


def test_a_document_without_questions_lists_none(client, lakeside, held):  # noqa: F811
    assert client.get(f"/api/v1/documents/{held}", headers=bearer(lakeside)).json["questions"] == []


def test_the_supplier_answers_through_the_api_audited_and_seen_by_finance(
    app,
    client,
    lakeside,  # noqa: F811
    held,
    question,
):
    response = _answer(client, bearer(lakeside), held, question.id, {"answer": "  DN-5531 "})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["answered"] is True
    assert response.json["answer"] == "DN-5531"
    db.session.expire_all()
    stored = db.session.get(Question, question.id)
    assert (stored.answer, stored.answered_by_id) == ("DN-5531", None)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "invoice.info_answered")
    )
    assert entry.actor_label.startswith("api client ")
    assert entry.target_id == str(held)
    assert entry.details == {"question": question.id}
    detail = client.get(f"/api/v1/documents/{held}", headers=bearer(lakeside)).json
    assert detail["questions"][0]["answered"] is True
    finance = app.test_client()
    login(finance, UserFactory(role=Role.FINANCE_CLERK).email, PASSWORD)
    page = finance.get(f"/finance/invoices/{held}").get_data(as_text=True)
    timeline = page[page.index('aria-label="Whole timeline"') :]
    timeline = timeline[: timeline.index("</ol>")]
    # The whole timeline tells the answer too, sent by the client (no user answered it).
    assert "The supplier answered" in timeline
    assert entry.actor_label in timeline
    assert "DN-5531" in timeline


def test_a_second_answer_is_409(client, lakeside, held, question):  # noqa: F811
    auth = bearer(lakeside)
    assert _answer(client, auth, held, question.id, {"answer": "DN-1"}).status_code == 200
    again = _answer(client, auth, held, question.id, {"answer": "DN-2"})
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert "already answered" in again.json["detail"]
    db.session.expire_all()
    assert db.session.get(Question, question.id).answer == "DN-1"


@pytest.mark.parametrize(
    "body", [{"answer": "   "}, {"answer": 5}, {}, ["DN-1"], {"answer": "x" * 2001}]
)
def test_an_unusable_answer_is_400_and_changes_nothing(client, lakeside, held, question, body):  # noqa: F811
    response = _answer(client, bearer(lakeside), held, question.id, body)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["parameter"] == "answer"
    db.session.expire_all()
    assert db.session.get(Question, question.id).waiting


def test_another_supplier_or_another_documents_question_is_404(client, lakeside, held, question):  # noqa: F811
    stranger = bearer(OrganizationFactory(supplier=True))
    assert _answer(client, stranger, held, question.id, {"answer": "me"}).status_code == 404
    assert (
        _answer(client, bearer(lakeside), held + 1000, question.id, {"answer": "x"}).status_code
        == 404
    )
    assert (
        _answer(client, bearer(lakeside), held, question.id + 1000, {"answer": "x"}).status_code
        == 404
    )
    db.session.expire_all()
    assert db.session.get(Question, question.id).waiting


def test_a_partner_answers_for_the_supplier_it_sent_for_only_while_connected(
    client,
    lakeside,  # noqa: F811
    portal_erp,
):
    partner = OrganizationFactory(partner=True)
    connection = ConnectionFactory(
        partner=partner, supplier=lakeside, scopes=[ConnectionScope.INVOICES]
    )
    auth = bearer(partner)
    body = invoice_for(lakeside, received_po(portal_erp), "QP-1", price_factor="3")
    sent = client.post(
        "/api/v1/invoices", json=body, headers={**auth, "On-Behalf-Of": str(lakeside.id)}
    )
    assert sent.status_code == 202, sent.get_data(as_text=True)
    held = sent.json["documents"][0]["id"]
    run_jobs()
    asked = services.ask(document(held), UserFactory(role=Role.FINANCE_CLERK), ASKED)
    db.session.commit()
    assert (
        client.get(f"/api/v1/documents/{held}", headers=auth).json["questions"][0]["id"] == asked.id
    )
    connection.revoked_at = utcnow()
    db.session.commit()
    assert _answer(client, auth, held, asked.id, {"answer": "DN-7"}).status_code == 403
    connection.revoked_at = None
    db.session.commit()
    assert _answer(client, auth, held, asked.id, {"answer": "DN-7"}).status_code == 200


def test_answering_needs_the_invoices_write_scope(client, lakeside, held, question):  # noqa: F811
    reader = bearer(lakeside, "documents:read")
    assert _answer(client, reader, held, question.id, {"answer": "DN-1"}).status_code == 403
