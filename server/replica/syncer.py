"""The replica's background sync: `CatalogMirror.sync()` every `--replica-sync-s`.

Staleness: a search on a replica sees the library as of its last sync, so a change on the
primary shows on the replica within about one sync interval plus the time the copy takes. A
primary that cannot be reached leaves the replica serving what it has (logged once per
outage). A re-embed swap on the primary ends the replica (`on_failure`): it exits non-zero
with the model to restart it with, for a supervisor to act on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import grpc

from scenesearch.server.replica.mirror import CatalogMirror, PrimaryChanged

log = logging.getLogger(__name__)


class Syncer:
    def __init__(
        self, mirror: CatalogMirror, every_s: float, on_failure: Callable[[str], None]
    ) -> None:
        self._mirror, self._every_s, self._on_failure = mirror, every_s, on_failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="replica-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # no join: the loop may be the caller (on_failure stops the server)

    def _loop(self) -> None:
        unreachable = False
        while not self._stop.wait(self._every_s):
            try:
                self._mirror.sync()
            except PrimaryChanged as exc:
                log.error("replica: %s", exc)
                self._on_failure(str(exc))
                return
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    return  # stopped under the sync, its channel closed: nothing to report
                if not unreachable:
                    log.warning(
                        "replica: the primary does not answer (%s); serving the library as "
                        "of the last sync",
                        exc.code(),
                    )
                unreachable = True
                continue
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("replica: sync failed; trying again")
                continue
            if unreachable:
                log.info("replica: the primary answers again")
            unreachable = False
