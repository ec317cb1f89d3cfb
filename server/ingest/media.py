"""Where videos may come from: paths under the media roots, and bounded uploads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from scenesearch.server.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)


def resolve_media_path(raw: str, roots: Iterable[Path]) -> Path:
    """The real path of `raw` if it is a file inside a media root, else a specific error.

    Symlinks and `..` are resolved first, so neither can escape a root.
    """
    roots = tuple(roots)
    if not raw:
        raise InvalidArgument("the path is empty")
    if not roots:
        raise PermissionDenied(
            "ingest by path is disabled: the server has no media roots. Start it with "
            "--media-root DIR (or SCENESEARCH_MEDIA_ROOTS), or send the file with --upload"
        )
    if "\0" in raw:
        raise InvalidArgument("the path contains a NUL byte")
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidArgument(f"{raw!r} is relative; give an absolute path on the server")
    try:
        real = Path(os.path.realpath(path))
        exists = real.exists()
    except (OSError, ValueError) as exc:  # e.g. a name longer than the filesystem allows
        raise InvalidArgument(f"{raw!r} is not a usable path ({exc})") from exc
    if not any(real == root or root in real.parents for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise PermissionDenied(f"{raw} is outside the media roots ({allowed})")
    if not exists:
        raise NotFound(f"{raw} does not exist on the server")
    if real.is_dir():
        raise InvalidArgument(
            f"{raw} is a directory; give a video file (the CLI expands "
            "directories on the client side)"
        )
    if not real.is_file():
        raise InvalidArgument(f"{raw} is not a regular file")
    return real


class UploadSink:
    """Writes an upload to a temp file under the data dir, enforcing the size limit."""

    def __init__(self, directory: Path, limit_bytes: int, filename: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Keep the extension (it helps FFmpeg probe) but nothing a client could abuse.
        suffix = "".join(c for c in Path(filename).suffix[:16] if c.isalnum() or c == ".")
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=directory)
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.limit = limit_bytes
        self.received = 0

    def check_declared(self, size: int) -> None:
        if size > self.limit:
            self.discard()
            raise ResourceExhausted(self._too_big(size))

    def write(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            self.discard()
            raise ResourceExhausted(self._too_big(self.received))
        self._file.write(chunk)

    def close(self) -> Path:
        self._file.close()
        return self.path

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def _too_big(self, size: int) -> str:
        return (
            f"upload of {size / 1e6:.1f} MB exceeds the server's limit of "
            f"{self.limit / 1e6:.1f} MB; raise it with --max-upload-mb or ingest by path"
        )
