"""gunicorn settings the portal relies on (read by default from the working directory).

With PROMETHEUS_MULTIPROC_DIR set, every worker writes its metrics to files in that directory
and /metrics adds them up; when a worker exits, its live gauges must be forgotten. RQ worker
processes share the directory (what jobs count reaches /metrics too) and app/workers.py does
the same for them.
"""

from __future__ import annotations

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server) -> None:
    """Make the metrics directory if missing. It is not emptied here: RQ workers on the same
    machine may share it (their ERP calls count too); empty it when the whole stack starts."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
