"""The hospital ERP as the portal sees it: one gateway per app, an HTTP client, a fake, a mock.

Portal code calls ``get_erp()`` and never builds a client itself; tests put a fake in place
with ``set_erp(app, RecordingErp())``.
"""

from __future__ import annotations

from flask import Flask, current_app

from app.erp.client import ErpClient
from app.erp.errors import ErpAuthError, ErpError, ErpNotFound, ErpRejected, ErpUnavailable
from app.erp.interface import ErpGateway

EXTENSION_KEY = "erp"


def get_erp() -> ErpGateway:
    """The current app's ERP gateway: an ErpClient built from ERP_* settings on first use."""
    gateway = current_app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        gateway = current_app.extensions[EXTENSION_KEY] = ErpClient.from_config(current_app.config)
    return gateway


def set_erp(app: Flask, gateway: ErpGateway) -> None:
    """Use another gateway (a fake in tests, another adapter) for this app."""
    app.extensions[EXTENSION_KEY] = gateway


__all__ = [
    "ErpAuthError",
    "ErpClient",
    "ErpError",
    "ErpGateway",
    "ErpNotFound",
    "ErpRejected",
    "ErpUnavailable",
    "get_erp",
    "set_erp",
]
