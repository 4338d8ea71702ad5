"""The post stage: VALIDATED invoices reach the ERP's AP ledger exactly once.

PostgreSQL holds the right to post (`models.PostingAttempt`, claimed under the document's row
lock with a lease); the ERP call carries a deterministic Idempotency-Key; an unknown outcome is
resolved by a lookup before anything is sent again (`services`). A circuit breaker shared
through Redis defers posting while the ERP fails (`breaker`); retries exhausted end in DEAD,
which ops replay (`replay`). Payment sync (`payments`) and the reconciler (`reconciler`) run
with the periodic sweep.
"""
