"""Content-Encoding of a submitted payload: gzip is inflated, never past a bound; anything else
is refused naming what is accepted. Pure: no Flask, the caller passes the header and the limit.

A gzip bomb (a few kilobytes that inflate to gigabytes) is inflated in chunks of at most
CHUNK bytes and refused as soon as the output passes the limit, so memory never holds more than
the limit plus one chunk whatever the ratio.
"""

from __future__ import annotations

import zlib

from app.formats import EnvelopeError

ACCEPTED = ("gzip", "identity")
ACCEPT_ENCODING = ", ".join(ACCEPTED)
_ALIASES = {"x-gzip": "gzip"}
CHUNK = 64 * 1024
_GZIP = 16 + zlib.MAX_WBITS  # zlib reads the gzip header and trailer (CRC, size) itself
LOCATION = "Content-Encoding"


def codings(header: str | None) -> list[str]:
    """`gzip, identity` -> ["gzip"]: the codings applied, in the order they were applied;
    EnvelopeError (415) naming the accepted ones when any is not accepted."""
    named = [part.strip().lower() for part in (header or "").split(",") if part.strip()]
    applied = [_ALIASES.get(name, name) for name in named if name != "identity"]
    refused = [name for name in applied if name not in ACCEPTED]
    if refused:
        raise EnvelopeError(
            f"Content-Encoding {', '.join(refused)} is not accepted; "
            f"send the payload as it is or gzip-compressed (accepted: {ACCEPT_ENCODING})",
            LOCATION,
            "unsupported_encoding",
        )
    return applied


def decode(body: bytes, header: str | None, limit: int) -> bytes:
    """The payload with every content coding of `header` undone (last applied, first undone);
    EnvelopeError when a coding is not accepted (415), the compressed data is broken (400), or
    the inflated payload passes `limit` bytes (413)."""
    for _coding in reversed(codings(header)):
        body = _gunzip(body, limit)
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of `data` (RFC 1952 allows several), stopping past `limit`."""
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(_GZIP)
        pending = data
        while not inflater.eof:
            try:
                chunk = inflater.decompress(pending, CHUNK)
            except zlib.error as error:
                raise EnvelopeError(
                    f"the gzip data cannot be inflated: {error}", LOCATION, "malformed"
                ) from None
            out += chunk
            if len(out) > limit:
                raise EnvelopeError(
                    f"the payload inflates to more than {limit} bytes", LOCATION, "too_large"
                )
            pending = inflater.unconsumed_tail
            if not pending and not chunk:
                raise EnvelopeError("the gzip data ends early", LOCATION, "malformed")
        data = inflater.unused_data
        if not data.strip(b"\x00"):  # some writers pad the last member with zeros
            return bytes(out)
