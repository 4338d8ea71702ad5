"""What can go wrong talking to the ERP, split by what the caller should do about it.

``ErpUnavailable`` is worth retrying later (the post job backs off); ``ErpRejected`` is a
business answer that retrying will not change (it becomes an ERP_REJECTED hold).
"""

from __future__ import annotations


class ErpError(Exception):
    """Any failure of an ERP call."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ErpUnavailable(ErpError):  # noqa: N818 - names the portal codes against
    """The ERP could not answer: refused, timed out, 5xx or 503 (with Retry-After)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.reason = reason  # connection_refused, connect_timeout, read_timeout, server_error...
        self.retry_after = retry_after


class ErpRejected(ErpError):  # noqa: N818 - names the portal codes against
    """The ERP refused the request for a business or validation reason (400/409/422)."""

    def __init__(
        self, code: str, message: str, *, status: int = 422, details: object = None
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ErpNotFound(ErpError):  # noqa: N818 - names the portal codes against
    """The vendor, PO or invoice named does not exist in the ERP."""


class ErpAuthError(ErpError):
    """The ERP refused our credentials: a configuration problem, not a transient one."""
