"""HTTP Range parsing (RFC 9110 section 14), pure: what bytes a `Range` header asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One range only: a browser's <video> asks for one at a time, and a multi-range request may
# be answered with the whole file (RFC 9110 14.2), which is what we do.
_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """The range starts at or past the end of the file: answer 416."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int, open_end_cap: int) -> ByteRange | None:
    """The range to send, or None for the whole file (no header, or one we ignore).

    `bytes=a-` asks for everything from a; we send at most `open_end_cap` bytes of it (a
    206 may cover less than an open range asks), so a player that reads the first bytes and
    then seeks elsewhere never holds a server stream open for the rest of the file.
    Raises `Unsatisfiable` when no byte of the range exists.
    """
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None  # malformed or several ranges: ignore the header
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - count), size - 1)
    start = int(first)
    if start >= size:
        raise Unsatisfiable
    if last:
        end = int(last)
        if end < start:
            return None  # invalid: RFC says ignore
        return ByteRange(start, min(end, size - 1))
    return ByteRange(start, min(size - 1, start + open_end_cap - 1))
