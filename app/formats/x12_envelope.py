"""X12 interchange reading: delimiters from the fixed-width ISA, segments with their byte
positions, and the ISA/GS/ST envelopes checked so a truncated or spliced file is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.formats.errors import EnvelopeError

ISA_LENGTH = 106  # ISA is fixed width: 105 characters plus the segment terminator
ISA_ELEMENTS = 17
MAX_X12_BYTES = 20 * 1024 * 1024
WHITESPACE = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


@dataclass(frozen=True)
class Delimiters:
    element: bytes
    component: bytes
    segment: bytes


@dataclass(frozen=True)
class Segment:
    """One segment; `number` counts from 1 at ISA, `start`/`end` are byte offsets."""

    number: int
    elements: tuple[str, ...]
    start: int
    end: int

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, position: int) -> str | None:
        """Element `position` (1-based, as in `IT102`), None when absent or empty."""
        if position < len(self.elements) and self.elements[position].strip():
            return self.elements[position].strip()
        return None

    @property
    def where(self) -> str:
        return f"segment {self.number} ({self.id})"


@dataclass(frozen=True)
class TransactionSet:
    """One ST..SE document inside a functional group."""

    set_id: str
    control: str
    segments: list[Segment]
    group: Segment

    @property
    def span(self) -> tuple[int, int]:
        return self.segments[0].start, self.segments[-1].end


def _isa_start(payload: bytes) -> int:
    start = len(payload) - len(payload.removeprefix(BOM).lstrip(WHITESPACE))
    if payload[start : start + 3] != b"ISA":
        raise EnvelopeError("an X12 interchange must start with ISA", "segment 1", "bad_isa")
    return start


def read_delimiters(payload: bytes, start: int) -> Delimiters:
    """Element separator at ISA position 3, component at 104, terminator at 105."""
    isa = payload[start : start + ISA_LENGTH]
    if len(isa) < ISA_LENGTH:
        raise EnvelopeError(
            "ISA segment is shorter than its fixed 106 characters", "segment 1 (ISA)", "bad_isa"
        )
    delimiters = Delimiters(isa[3:4], isa[104:105], isa[105:106])
    fields = isa[:105].split(delimiters.element)
    if len(fields) != ISA_ELEMENTS or len(fields[16]) != 1:
        raise EnvelopeError(
            "ISA segment is not fixed width (16 elements, component separator at position 104)",
            "segment 1 (ISA)",
            "bad_isa",
        )
    if (
        len({delimiters.element, delimiters.component, delimiters.segment}) != 3
        or delimiters.segment.isalnum()
        # A byte past ASCII could sit inside a UTF-8 character: splitting there cuts it in two.
        or not (delimiters.element + delimiters.component + delimiters.segment).isascii()
    ):
        raise EnvelopeError(
            "ISA delimiters are not distinct ASCII punctuation", "segment 1 (ISA)", "bad_isa"
        )
    return delimiters


def _check_encoding(payload: bytes) -> None:
    """X12 is defined over ASCII; UTF-8 is tolerated for names. Anything else (Latin-1, a
    corrupted byte) is refused naming its byte offset, as every other format does: replacing
    it with U+FFFD would lose what the sender wrote without telling them."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvelopeError(
            "an X12 interchange must be ASCII or UTF-8", f"byte {error.start}"
        ) from None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8")  # checked whole by _check_encoding first


def split_segments(payload: bytes) -> list[Segment]:
    """Every segment with its position; line breaks, indentation and a BOM between segments
    are ignored, as pretty-printed files carry them."""
    start = _isa_start(payload)
    delimiters = read_delimiters(payload, start)
    _check_encoding(payload)
    segments: list[Segment] = []
    position = start
    while position < len(payload):
        end = payload.find(delimiters.segment, position)
        end = len(payload) if end < 0 else end
        raw = payload[position:end]
        stripped = raw.lstrip(WHITESPACE + BOM)
        offset = position + len(raw) - len(stripped)
        stripped = stripped.rstrip(WHITESPACE)
        if stripped:
            number = len(segments) + 1
            elements = tuple(_decode(part) for part in stripped.split(delimiters.element))
            _check_segment_id(elements[0], number)
            segments.append(Segment(number, elements, offset, end + 1))
        position = end + 1
    return segments


def _check_segment_id(segment_id: str, number: int) -> None:
    if not SEGMENT_ID.fullmatch(segment_id):
        raise EnvelopeError(f"{segment_id[:20]!r} is not an X12 segment id", f"segment {number}")


def _truncated(what: str, last: Segment) -> EnvelopeError:
    return EnvelopeError(f"interchange ends before {what}", last.where, "truncated")


def _close_set(opening: Segment, segments: list[Segment], group: Segment) -> TransactionSet:
    closing = segments[-1]
    if closing.get(2) != opening.get(2):
        raise EnvelopeError(
            f"SE control number {closing.get(2)} does not match ST {opening.get(2)}", closing.where
        )
    if closing.get(1) != str(len(segments)):
        raise EnvelopeError(
            f"SE says {closing.get(1)} segments but the set has {len(segments)}", closing.where
        )
    return TransactionSet(opening.get(1) or "", opening.get(2) or "", segments, group)


def _read_set(segments: list[Segment], index: int, group: Segment) -> tuple[TransactionSet, int]:
    opening = segments[index]
    for end in range(index + 1, len(segments)):
        if segments[end].id == "SE":
            return _close_set(opening, segments[index : end + 1], group), end + 1
        if segments[end].id in {"ST", "GE", "IEA"}:
            raise EnvelopeError(f"ST {opening.get(2)} has no SE", segments[end].where, "truncated")
    raise _truncated(f"the SE of ST {opening.get(2)}", segments[-1])


def _read_group(segments: list[Segment], index: int) -> tuple[list[TransactionSet], int]:
    group = segments[index]
    sets: list[TransactionSet] = []
    index += 1
    while index < len(segments):
        segment = segments[index]
        if segment.id == "GE":
            return sets, index + 1
        if segment.id != "ST":
            raise EnvelopeError(f"expected ST or GE, found {segment.id}", segment.where)
        transaction_set, index = _read_set(segments, index, group)
        sets.append(transaction_set)
    raise _truncated("GE", segments[-1])


def transaction_sets(payload: bytes) -> tuple[Segment, list[TransactionSet]]:
    """The ISA segment and every transaction set in the interchange, envelopes checked."""
    if len(payload) > MAX_X12_BYTES:
        raise EnvelopeError(f"X12 payload larger than {MAX_X12_BYTES} bytes", code="too_large")
    segments = split_segments(payload)
    isa = segments[0]
    sets: list[TransactionSet] = []
    index = 1
    while index < len(segments) and segments[index].id == "GS":
        group_sets, index = _read_group(segments, index)
        sets += group_sets
    if index >= len(segments):
        raise _truncated("IEA", segments[-1])
    if segments[index].id != "IEA":
        raise EnvelopeError(
            f"expected GS or IEA, found {segments[index].id}", segments[index].where
        )
    if index != len(segments) - 1:
        raise EnvelopeError("data after IEA", segments[index + 1].where)
    return isa, sets
