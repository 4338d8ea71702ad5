"""Operations: health, readiness, the audit viewer (later: pipeline console, metrics)."""
