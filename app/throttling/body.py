"""Refusing request bodies larger than the caller's tier allows, before they are read whole:
by Content-Length up front, and by counting bytes for bodies sent without one (chunked)."""

from __future__ import annotations

from typing import IO, Any

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.problems import problem

READ_CHUNK = 64 * 1024


class BodyTooLarge(RequestEntityTooLarge):
    """Raised while reading a body that grows past the tier's limit (a 413 problem)."""

    def __init__(self, limit: int) -> None:
        super().__init__(description=_detail(limit))
        self.limit = limit


def _detail(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes your throttling tier allows."


def body_too_large(limit: int) -> Response:
    extra: dict[str, Any] = {"max-body-bytes": limit}
    return problem(413, _detail(limit), type_="body-too-large", **extra)


class CappedStream:
    """A WSGI input that raises BodyTooLarge as soon as more than `limit` bytes came in,
    reading at most one byte past the limit."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._seen = 0

    def _counted(self, data: bytes) -> bytes:
        self._seen += len(data)
        if self._seen > self._limit:
            raise BodyTooLarge(self._limit)
        return data

    def _allowance(self, size: int | None) -> int:
        left = self._limit - self._seen + 1
        return left if size is None or size < 0 else min(size, left)

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._counted(self._stream.read(self._allowance(size)))
        parts = []
        while chunk := self.read(READ_CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.readline(self._allowance(size)))

    def __iter__(self):
        while line := self.readline():
            yield line


def guard_body(limit: int) -> Response | None:
    """Answer 413 now if the declared length is too large; otherwise cap the stream so a
    body sent without Content-Length stops at the limit."""
    length = request.content_length
    if length is not None and length > limit:
        return body_too_large(limit)
    if "stream" in request.__dict__:  # already opened by someone: cap what is left of it
        request.__dict__["stream"] = CappedStream(request.__dict__["stream"], limit)
    else:
        request.environ["wsgi.input"] = CappedStream(request.environ["wsgi.input"], limit)
    # Replace the app-wide MAX_CONTENT_LENGTH for this request. One byte of slack lets the
    # capped stream see the byte too many and raise the tier's own 413 (Flask reads None as
    # "use the app-wide value", so the limit has to be a number).
    request.max_content_length = limit + 1
    return None
