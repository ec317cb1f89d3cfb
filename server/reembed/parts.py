"""What the move needs of a generation's wiring (the service's ServiceDeps has all of it),
and the progress bulletin watchers follow."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from scenesearch.server.ingest.jobs import JobRunner
from scenesearch.server.query.concepts import ConceptBook
from scenesearch.server.reembed.state import MoveStatus
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.video_files import VideoFiles


class GenerationParts(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def jobs(self) -> JobRunner: ...
    @property
    def files(self) -> VideoFiles: ...
    @property
    def model(self) -> str: ...
    @property
    def generation(self) -> str: ...
    @property
    def concepts(self) -> ConceptBook | None: ...


class Bulletin:
    """The latest status of a move, for any number of watchers."""

    def __init__(self, status: MoveStatus) -> None:
        self._cond = threading.Condition()
        self._status, self._version, self._final = status, 0, False

    @property
    def latest(self) -> MoveStatus:
        return self._status

    def publish(self, status: MoveStatus, final: bool = False) -> None:
        with self._cond:
            self._status, self._final = status, final
            self._version += 1
            self._cond.notify_all()

    def updates(self, poll_s: float = 1.0) -> Iterator[MoveStatus]:
        """Each new status as it comes, ending with the final one."""
        seen = -1
        while True:
            with self._cond:
                while self._version == seen:
                    self._cond.wait(poll_s)
                seen, status, final = self._version, self._status, self._final
            yield status
            if final:
                return
