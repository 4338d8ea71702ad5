"""The hospital ERP as the portal sees it: one gateway per app, an HTTP client, a fake, a mock.

Portal code calls ``get_erp()`` and never builds a client itself; tests put a fake in place
with ``set_erp(app, RecordingErp())``.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask, current_app

from app.erp.client import ErpClient
from app.erp.errors import ErpAuthError, ErpError, ErpNotFound, ErpRejected, ErpUnavailable
from app.erp.interface import ErpGateway

EXTENSION_KEY = "erp"


def get_erp() -> ErpGateway:
    """The current app's ERP gateway, built from the configuration on first use: ErpClient
    (ERP_URL, ERP_API_KEY, ERP_*_TIMEOUT) unless ERP_GATEWAY names another adapter."""
    gateway = current_app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        adapter = gateway_class(current_app.config.get("ERP_GATEWAY"))
        gateway = current_app.extensions[EXTENSION_KEY] = adapter.from_config(current_app.config)
    return gateway


def gateway_class(dotted: str | None) -> Any:
    """The adapter class ERP_GATEWAY names ("package.module:Class"), ErpClient when unset.
    It must satisfy ErpGateway and offer `from_config(config)`."""
    if not dotted:
        return ErpClient
    module_name, _, class_name = dotted.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


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
