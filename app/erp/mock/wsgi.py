"""For gunicorn: `gunicorn -w 1 app.erp.mock.wsgi:app` (one worker: faults live in-process)."""

from app.erp.mock import create_app
from app.erp.mock.app import configure_logging

configure_logging()
app = create_app()
