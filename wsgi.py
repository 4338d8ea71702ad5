"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from app import create_app
from app.jobs import start_inprocess_worker

app = create_app()

if app.config["QUEUE_BACKEND"] == "fake":  # no Redis server: run the queue in this process
    start_inprocess_worker(app)
