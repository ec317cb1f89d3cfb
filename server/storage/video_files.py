"""Where a video's file is, so it can be played and clipped; and the kept uploads.

Uploads are kept content-addressed under the data dir (`media/ab/abcdef…`, named by their
SHA-256, which the video row already records), so the same content is stored once and the
row alone says where it is. A video ingested by path is served from that path only while it
is still a regular file inside a configured media root: nothing else is ever read.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from scenesearch.server.domain import Video
from scenesearch.server.errors import InvalidArgument, OutOfRange

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "upload:"
DEFAULT_CONTENT_TYPE = "video/mp4"


class VideoFiles:
    def __init__(self, data_dir: Path, media_roots: Sequence[Path], keep_uploads: bool) -> None:
        self.root = data_dir / "media"
        self._media_roots = tuple(media_roots)
        self.keep_uploads = keep_uploads

    def upload_location(self, content_hash: str) -> Path:
        return self.root / content_hash[:2] / content_hash

    def keep_upload(self, spooled: Path, content_hash: str) -> None:
        """Move an ingested upload into place (it is on the same filesystem: a rename)."""
        if not self.keep_uploads:
            return
        destination = self.upload_location(content_hash)
        if destination.exists():
            return  # the same content is already kept
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled, destination)

    def location(self, video: Video) -> Path | None:
        """The file to serve for `video`, or None when the server does not have it."""
        if video.path.startswith(UPLOAD_PREFIX):
            path = self.upload_location(video.content_hash)
            return path if path.is_file() else None
        real = Path(os.path.realpath(video.path))
        inside = any(real == r or r in real.parents for r in self._media_roots)
        return real if inside and real.is_file() else None

    def size(self, video: Video) -> int:
        path = self.location(video)
        return path.stat().st_size if path is not None else 0

    def remove(self, video: Video) -> None:
        """Delete a kept upload. Files under media roots belong to the user: never touched."""
        if video.path.startswith(UPLOAD_PREFIX):
            self.upload_location(video.content_hash).unlink(missing_ok=True)

    @staticmethod
    def content_type(video: Video) -> str:
        name = video.path.removeprefix(UPLOAD_PREFIX)
        guessed, _ = mimetypes.guess_type(name)
        return guessed if guessed and guessed.startswith("video/") else DEFAULT_CONTENT_TYPE


def byte_range(path: Path, offset: int, length: int, chunk: int) -> tuple[int, Iterator[bytes]]:
    """The file's size and its bytes [offset, offset + length) in chunks (length 0: to the
    end). Raises InvalidArgument for a negative offset or length, and OutOfRange past the end."""
    if offset < 0 or length < 0:
        raise InvalidArgument(f"offset and length must not be negative (got {offset}, {length})")
    size = path.stat().st_size
    if offset >= size and not offset == size == 0:
        raise OutOfRange(f"offset {offset} is past the end of the file ({size} bytes)")
    end = size if length == 0 else min(size, offset + length)

    def read() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            fh.seek(offset)
            left = end - offset
            while left > 0 and (data := fh.read(min(chunk, left))):
                left -= len(data)
                yield data

    return size, read()
