"""The partner API: token-protected /api/v1 views over intake, and its public contract
(JSON Schemas, OpenAPI document, docs page) under /api."""
