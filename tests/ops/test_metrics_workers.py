"""/metrics under gunicorn with two workers (prometheus-client's multiprocess mode): whichever
worker answers a scrape, the totals are every worker's, and the same on every scrape; what a job
counts in an RQ worker process sharing the directory is scraped too."""

from __future__ import annotations

import glob
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from flask_migrate import upgrade
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from app import create_app
from app.db import db
from app.documents.models import DocumentState
from app.erp import get_erp
from app.jobs import job
from tests.conftest import UNREACHABLE_ERP
from tests.erp.fixtures import free_port
from tests.factories.documents import DocumentFactory
from tests.ops.test_metrics import sample

pytestmark = [pytest.mark.slow, pytest.mark.no_db]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUESTS = 120


@job
def ping_the_erp() -> int:
    """A job that calls the ERP (unreachable in these tests: an ERP call with no answer)."""
    get_erp().ping()
    return os.getpid()


@pytest.fixture
def stack_env(tmp_path) -> dict[str, str]:
    """The environment web and workers share, and their database with one received invoice."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()  # before any process of the portal starts, as a deployment does
    env = os.environ | {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "ERP_URL": UNREACHABLE_ERP,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_ALLOW_CIDRS": "127.0.0.1/32",
        "THROTTLE_ENABLED": "0",
    }
    _migrate(env["DATABASE_URL"])
    return env


@pytest.fixture
def two_workers(tmp_path, stack_env) -> Iterator[tuple[str, Path]]:
    env, metrics_dir = stack_env, Path(stack_env["PROMETHEUS_MULTIPROC_DIR"])
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "1",
         "--control-socket", str(tmp_path / "gunicorn.ctl")],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        yield url, metrics_dir
    finally:
        server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def _migrate(url: str) -> None:
    """The database the workers share, migrated in this process (already past its imports),
    with one received invoice for the documents gauge."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="heads")
        DocumentFactory(state=DocumentState.RECEIVED)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start")


def per_worker(metrics_dir: Path, endpoint: str) -> dict[str, float]:
    """How many `endpoint` requests each worker's own file counted."""
    counts = {}
    for path in glob.glob(str(metrics_dir / "counter_*.db")):
        pid = Path(path).stem.removeprefix("counter_")
        families = MultiProcessCollector.merge([path], accumulate=True)
        counts[pid] = sum(
            s.value
            for family in families
            for s in family.samples
            if s.name == "portal_http_requests_total" and s.labels.get("endpoint") == endpoint
        )
    return counts


def _until_both_workers_serve(url: str, metrics_dir: Path) -> None:
    """A loaded machine boots the second worker seconds after the first answers: send
    concurrent requests until each worker has taken one."""
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(4) as pool:
        while time.monotonic() < deadline:
            list(pool.map(lambda _: requests.get(f"{url}/healthz", timeout=10), range(8)))
            if len([c for c in per_worker(metrics_dir, "ops.healthz").values() if c]) == 2:
                return
            time.sleep(0.2)
    pytest.fail(
        f"one worker took every request for a minute: {per_worker(metrics_dir, 'ops.healthz')}"
    )


def test_every_scrape_adds_up_both_workers(two_workers):
    url, metrics_dir = two_workers
    _until_both_workers_serve(url, metrics_dir)
    warmup = per_worker(metrics_dir, "ops.healthz")
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda _: requests.get(f"{url}/healthz", timeout=10).status_code, range(REQUESTS)
            )
        )
    assert codes == [200] * REQUESTS
    served = {
        pid: count - warmup.get(pid, 0)
        for pid, count in per_worker(metrics_dir, "ops.healthz").items()
    }
    assert sum(served.values()) == REQUESTS
    assert len([c for c in served.values() if c]) == 2, served  # both workers took requests
    expected = REQUESTS + sum(warmup.values())

    with ThreadPoolExecutor(4) as pool:
        scrapes = list(
            pool.map(lambda _: requests.get(f"{url}/metrics", timeout=10).text, range(16))
        )
    totals = {
        sample(text, "portal_http_requests_total", endpoint="ops.healthz") for text in scrapes
    }
    assert totals == {expected}
    scraped_by = per_worker(metrics_dir, "ops.metrics_page")
    assert len([c for c in scraped_by.values() if c]) == 2, scraped_by  # both answered scrapes
    documents = {
        sample(text, "portal_documents", kind="invoice", state="RECEIVED") for text in scrapes
    }
    assert documents == {1}  # read from the database at every scrape, by either worker
    assert all("portal_redis_up 1.0" in text for text in scrapes)


def test_what_a_job_counts_in_a_worker_process_reaches_the_web_scrape(two_workers, stack_env):
    url, metrics_dir = two_workers
    name, labels = "portal_erp_calls_total", {"endpoint": "/api/ping", "status": "none"}
    before = sample(requests.get(f"{url}/metrics", timeout=10).text, name, **labels)
    redis = Redis.from_url(stack_env["REDIS_URL"])
    queue = Queue(f"metrics-test-{uuid.uuid4().hex[:8]}", connection=redis)
    ran = queue.enqueue(ping_the_erp)
    worker = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "worker", "--burst", "--processes", "1",
         "--queue", queue.name],
        cwd=ROOT, env=stack_env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
    assert ran.get_status(refresh=True) == JobStatus.FINISHED
    job_pid = ran.return_value()
    assert (metrics_dir / f"counter_{job_pid}.db").is_file()  # the worker's own file...

    text = requests.get(f"{url}/metrics", timeout=10).text  # ...added up by a web worker
    assert sample(text, name, **labels) == before + 1


def test_the_stack_gives_web_and_workers_one_metrics_directory():
    """docker-compose.yml and `make run` start web and workers with the same directory."""
    from scripts import run_all

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    path = services["worker"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert services["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == path
    for name in ("web", "worker"):
        assert any(v.endswith(f":{path}") for v in services[name]["volumes"]), name
    assert services["worker"]["pid"] == "service:web"  # metrics files are named by pid
    assert "PROMETHEUS_MULTIPROC_DIR" in inspect.getsource(run_all.main)
