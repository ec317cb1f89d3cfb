"""The active generation: the one reference the service reads, and the gate writes pass.

The service reads `deps` once per call, so a call is answered wholly by one generation. A
swap replaces that reference in one assignment. Writes that change the library (ingest
submissions, deletes, imports, concept saves) hold the gate shared; the swap holds it
exclusive for its last step, so no write lands in the old generation after the new one was
checked against it. Searches never wait on the gate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from scenesearch.server.index.rwlock import ReadWriteLock

D = TypeVar("D")


class ActiveGeneration(Generic[D]):
    def __init__(self, deps: D) -> None:
        self._deps = deps
        self._gate = ReadWriteLock()
        self._lock = threading.Lock()

    @property
    def deps(self) -> D:
        return self._deps

    @contextmanager
    def writing(self) -> Iterator[D]:
        """Hold the gate shared for one write; yields the generation to write to."""
        with self._gate.read():
            yield self._deps

    @contextmanager
    def exclusive(self) -> Iterator[D]:
        """No write runs or starts while this is held (the swap's final check)."""
        with self._gate.write():
            yield self._deps

    def switch(self, deps: D, retire: Callable[[D], None]) -> None:
        """Make `deps` the active generation (call while holding `exclusive`), then retire
        the old one."""
        with self._lock:
            old, self._deps = self._deps, deps
        retire(old)
