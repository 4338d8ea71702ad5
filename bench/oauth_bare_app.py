"""The baseline for bench/token_bench.py: a bare Flask app with one GET and one form POST, served
by gunicorn with the same settings as the portal (`gunicorn bench.oauth_bare_app:app`)."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/bare")
def bare_get():
    return jsonify(ok=True)


@app.post("/bare")
def bare_post():
    return jsonify(ok=True, fields=len(request.form))
