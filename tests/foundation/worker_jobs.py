"""Plain jobs for the worker tests: they need no app, only a process to run in."""

from __future__ import annotations

import os
import signal
import time


def whoami() -> int:
    return os.getpid()


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
