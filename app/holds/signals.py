"""Signals the finance queue sends for others to hook (webhooks): inside the transaction."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent when finance asks the supplier a question about an invoice; sender: the document id.
info_requested = _signals.signal("info-requested")
