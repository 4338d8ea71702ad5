"""Intake tests run the API, the jobs and the portal pages against the real database and
Redis; the ERP is the in-memory fake unless a test says otherwise."""

from __future__ import annotations

import pytest

from app.erp import set_erp
from app.erp.fake import RecordingErp


@pytest.fixture
def fake_erp(app):
    previous = app.extensions.get("erp")
    erp = RecordingErp()
    set_erp(app, erp)
    yield erp
    if previous is None:
        app.extensions.pop("erp", None)
    else:
        set_erp(app, previous)
