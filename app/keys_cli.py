"""The `flask keys ...` command group, shared: each package that owns keys adds its commands
here (app.oauth.cli: rotate-signing; encryption keys: rotate), and create_app registers it once."""

from __future__ import annotations

from flask.cli import AppGroup

keys_cli = AppGroup("keys", help="Encryption and token signing keys.")
