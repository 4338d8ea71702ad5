"""`make run`: web, worker and mock ERP in the foreground with prefixed logs; Ctrl-C stops all."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
WEB_PORT = os.environ.get("PORT", "5000")
ERP_PORT = os.environ.get("MOCK_ERP_PORT", "5001")


def redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def choose_queue_backend() -> str:
    """Use Redis if it answers, start it if installed, or fall back to in-process fakeredis."""
    if redis_answers(REDIS_URL):
        return "redis"
    if shutil.which("redis-server"):
        port = REDIS_URL.rsplit(":", 1)[-1].split("/")[0] or "6379"
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--port",
                port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
        )
        for _ in range(25):
            if redis_answers(REDIS_URL):
                print(f"[run] started redis-server on port {port}")
                return "redis"
            time.sleep(0.2)
    print("[run] no Redis server: the queue runs in-process on fakeredis (jobs run inside web)")
    return "fake"


def processes(backend: str) -> dict[str, list[str]]:
    web_workers = "1" if backend == "fake" else "2"  # fakeredis lives in one process only
    procs = {
        "mock-erp": [str(BIN / "python"), "-m", "app.erp.mock"],
        "web": [
            str(BIN / "gunicorn"),
            "wsgi:app",
            "--bind",
            f"127.0.0.1:{WEB_PORT}",
            "--workers",
            web_workers,
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
    }
    if backend == "redis":
        procs["worker"] = [str(BIN / "flask"), "--app", "wsgi", "worker", "--processes", "2"]
    return procs


def pump(name: str, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def wait_ready(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                return response.status == 200
        except OSError:
            time.sleep(0.5)
    return False


def banner() -> str:
    """What `make run` prints once the portal answers: where it is and who can sign in."""
    from app.demo import DEMO_PASSWORD, login_lines

    url = f"http://127.0.0.1:{WEB_PORT}"
    lines = [
        "",
        f"  Supplier Portal is up: {url}/   (mock ERP on :{ERP_PORT})",
        f"  API docs, example documents and curl: {url}/api/docs",
        f"  Demo logins (password for all: {DEMO_PASSWORD}):",
        *(f"    {line}" for line in login_lines()),
        "  Staff roles set up an authenticator app (TOTP) at their first sign-in.",
        "  Mail (invitations, verifications) lands in the dev mailbox at /dev/mailbox (ops, procurement)",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines) + "\n"


def metrics_dir() -> str:
    """One prometheus-client directory for web and worker, emptied of an earlier run's files,
    so /metrics adds up what every process counted, jobs included."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or ROOT / "instance" / "prometheus")
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return str(path)


def wait_listening(port: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start(name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    threading.Thread(target=pump, args=(name, proc.stdout), daemon=True).start()
    return proc


def seed_demo(env: dict[str, str]) -> None:
    """`flask seed-demo` once the mock ERP listens: the demo takes invoices through posting to
    PAID and DEAD only against an ERP that answers (app.posting.demo), and seeding again later
    would not redo it (suppliers that already have documents are skipped)."""
    if not wait_listening(ERP_PORT):
        print(f"[run] the mock ERP did not listen on :{ERP_PORT} in 30 s; seeding without it")
    if start("seed", [str(BIN / "flask"), "--app", "wsgi", "seed-demo"], env).wait() != 0:
        print("[run] seed-demo failed; see its lines above")


def main() -> int:
    backend = choose_queue_backend()
    env = {
        **os.environ,
        "QUEUE_BACKEND": backend,
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir(),
    }
    env.setdefault("ERP_URL", f"http://127.0.0.1:{ERP_PORT}")
    # The mock ERP first, the demo data against it, then the portal's own processes.
    commands = processes(backend)
    running = {"mock-erp": start("mock-erp", commands.pop("mock-erp"), env)}
    seed_demo(env)
    running |= {name: start(name, cmd, env) for name, cmd in commands.items()}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if wait_ready(f"http://127.0.0.1:{WEB_PORT}/readyz"):
        # One write, so the log lines the other processes print cannot cut through it.
        sys.stdout.write(banner())
        sys.stdout.flush()
    else:
        print("[run] the portal did not become ready in 30 s; see the logs above (GET /readyz)")
    try:
        while not stop.is_set() and all(p.poll() is None for p in running.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
    for proc in running.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in running.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("[run] stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
