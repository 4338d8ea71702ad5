"""The floor for bench/throttle_bench.py: a bare Flask endpoint, nothing of the portal."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/bare")
def bare():
    return {"ok": True}
