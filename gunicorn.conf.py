"""gunicorn settings the portal relies on (read by default from the working directory).

With PROMETHEUS_MULTIPROC_DIR set, every worker writes its metrics to files in that directory
and /metrics adds them up; when a worker exits, its live gauges must be forgotten.
"""

from __future__ import annotations

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server) -> None:
    """Start from an empty metrics directory: files of an earlier run would be added in."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
