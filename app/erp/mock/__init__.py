"""A stand-in hospital ERP with its own database and switchable faults, for demos and tests.

Run it with ``python -m app.erp.mock`` (the server that can refuse connections) or
``flask --app app.erp.mock run --port 5001``.
"""

from app.erp.mock.app import create_app

__all__ = ["create_app"]
