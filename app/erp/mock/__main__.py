"""`python -m app.erp.mock`: the mock ERP on MOCK_ERP_PORT, under the server that can go dark."""

from __future__ import annotations

import os

from app.erp.mock import create_app
from app.erp.mock.app import configure_logging
from app.erp.mock.server import serve


def main() -> None:
    configure_logging()
    app = create_app()
    host = os.environ.get("MOCK_ERP_HOST", "127.0.0.1")
    serve(app, host, int(app.config["MOCK_ERP_PORT"]))


if __name__ == "__main__":
    main()
