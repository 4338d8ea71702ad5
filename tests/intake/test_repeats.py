"""The same payload sent again by the same sender is refused at intake, in the API (409 naming the
earlier document) and on the portal's upload page; an Idempotency-Key retry still replays."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select, text

from app.db import db
from app.documents.models import Document, DocumentState, RawPayload
from app.intake import repeats
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import bearer, document, run_jobs

JSON = {"Content-Type": "application/json"}
REJECTED_BODY = b'{"invoice_number": "", "issue_date": "2024-13-01", "lines": []}'


@pytest.fixture
def acme():
    return OrganizationFactory(supplier=True)


@pytest.fixture
def auth(acme):
    return bearer(acme)


def _send(client, auth, body=None, **headers):
    body = body if body is not None else local("json_two_documents.json")
    return client.post("/api/v1/invoices", data=body, headers={**auth, **JSON, **headers})


def _documents() -> int:
    return db.session.scalar(select(func.count()).select_from(Document))


def test_the_same_bytes_again_answer_409_naming_the_first_document(client, auth):
    first = _send(client, auth)
    again = _send(client, auth)
    assert first.status_code == 202
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    problem = again.json
    earlier = first.json["documents"][0]
    assert problem["type"].endswith("/duplicate-payload")
    assert problem["document"] == {
        "id": earlier["id"],
        "state": "RECEIVED",
        "href": earlier["href"],
    }
    assert f"(document {earlier['id']})" in problem["detail"]
    assert "corrected invoice with a new invoice number" in problem["detail"]
    assert "Idempotency-Key" in problem["detail"]
    assert _documents() == 2  # the first payload's two invoices, stored once
    assert db.session.scalar(select(func.count()).select_from(RawPayload)) == 1
    # The link in the answer reads the earlier document back.
    assert client.get(problem["document"]["href"], headers=auth).status_code == 200


def test_a_retry_with_its_idempotency_key_replays_a_new_key_is_refused(client, auth):
    first = _send(client, auth, **{"Idempotency-Key": "k-1"})
    retry = _send(client, auth, **{"Idempotency-Key": "k-1"})
    other_key = _send(client, auth, **{"Idempotency-Key": "k-2"})
    assert (first.status_code, retry.status_code, other_key.status_code) == (202, 202, 409)
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other_key.json["document"]["id"] == first.json["documents"][0]["id"]
    # The refusal is not remembered as the key's answer: it was never stored.
    assert _send(client, auth, **{"Idempotency-Key": "k-2"}).status_code == 409
    assert _documents() == 2


def test_the_earlier_documents_state_is_named_once_it_moved_on(client, auth):
    first = _send(client, auth)
    run_jobs()
    again = _send(client, auth)
    assert again.status_code == 409
    assert again.json["document"]["state"] == document(first.json["documents"][0]["id"]).state.value
    assert "invoice J-1" in again.json["detail"]


def test_one_byte_of_difference_is_a_new_payload(client, auth):
    body = local("json_two_documents.json")
    assert _send(client, auth, body).status_code == 202
    assert _send(client, auth, body + b"\n").status_code == 202
    assert _documents() == 4


def test_another_sender_may_send_the_same_bytes(client, auth):
    assert _send(client, auth).status_code == 202
    assert _send(client, bearer(OrganizationFactory(supplier=True))).status_code == 202
    assert _documents() == 4


def test_a_rejected_documents_bytes_may_be_sent_again(client, auth):
    first = _send(client, auth, REJECTED_BODY)
    run_jobs()
    assert document(first.json["documents"][0]["id"]).state is DocumentState.REJECTED
    again = _send(client, auth, REJECTED_BODY)
    assert again.status_code == 202
    # ... but not a third time while the second is live.
    assert (
        _send(client, auth, REJECTED_BODY).json["document"]["id"]
        == (again.json["documents"][0]["id"])
    )


def test_a_refused_repeat_costs_no_daily_quota(client, auth, monkeypatch):
    from app.api import views

    charged: list[int] = []
    monkeypatch.setattr(views, "charge_daily_quota", lambda client, count: charged.append(count))
    _send(client, auth)
    _send(client, auth)
    assert charged == [2]


def test_a_copy_being_received_at_this_moment_answers_409_with_retry_after(client, acme, auth):
    body = local("json_two_documents.json")
    # Another connection holds the lock on these bytes, as a first request still running would.
    with db.engine.connect() as other:
        other.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {
                "ns": repeats.LOCK_NAMESPACE,
                "key": repeats.lock_key(acme.id, repeats.sha256_of(body)),
            },
        )
        response = _send(client, auth, body)
        other.rollback()
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert "document" not in response.json
    assert _documents() == 0


def test_the_lookup_reads_the_sha256_index(client, acme):
    """A sender with many payloads: the lookup goes by the file's hash, not through all of the
    sender's files (the rows and their statistics are the test's own, rolled back after it)."""
    db.session.execute(
        text(
            "INSERT INTO raw_payloads (sha256, content_type, size, body, channel,"
            " sender_org_id, received_at)"
            " SELECT md5(i::text) || md5((-i)::text), 'application/json', 2, '{}', 'API',"
            " :sender, now() FROM generate_series(1, 2000) AS i"
        ),
        {"sender": acme.id},
    )
    db.session.execute(text("ANALYZE raw_payloads"))
    plan = db.session.execute(
        text("EXPLAIN " + str(repeats.EARLIER)),
        {"sender": acme.id, "sha256": "0" * 64, "rejected": "REJECTED"},
    ).scalars()
    plan_text = "\n".join(plan)
    assert "ix_raw_payloads_sha256" in plan_text, plan_text
    assert "ix_documents_payload_id" in plan_text, plan_text


# -- the portal ------------------------------------------------------------------------------


def _upload(client, body: bytes, filename: str):
    token = csrf_token(client.get("/documents/upload").get_data(as_text=True))
    return client.post(
        "/documents/upload",
        data={"csrf_token": token, "kind": "invoice", "file": (io.BytesIO(body), filename)},
        content_type="multipart/form-data",
    )


def test_uploading_the_same_file_again_shows_the_first_document_and_says_why(client, acme):
    UserFactory(email="ap@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@acme.example", PASSWORD)
    body = local("json_two_documents.json")
    assert _upload(client, body, "march.json").status_code == 302
    first_id = db.session.scalar(select(func.min(Document.id)))
    again = _upload(client, body, "march-again.json")
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/documents/{first_id}")
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "This exact file was already received" in page
    assert "it was not stored again" in page
    assert "corrected invoice with a new invoice number" in page
    assert "Idempotency-Key" not in page  # API advice stays in the API
    assert _documents() == 2
