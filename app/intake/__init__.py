"""Document intake: raw payloads, documents and their states, the outbox, idempotency keys,
the normalize job and the supplier's document pages."""
