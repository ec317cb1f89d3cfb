"""Starting, resuming, following and cancelling a move; what the service calls.

One move at a time. Starting checks what a person can get wrong (the model is the current one,
it does not load, a move already runs) before anything is written. A server started with a
move unfinished resumes it; a cancelled move's generation is deleted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from scenesearch.server.errors import FailedPrecondition, InvalidArgument, ModelLoadError
from scenesearch.server.ingest.worker import IngestWorker
from scenesearch.server.models import DualEncoder
from scenesearch.server.query.search import Query, SearchOptions, SearchResult
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.layout import Generation, Layout, same_model
from scenesearch.server.reembed.parts import GenerationParts
from scenesearch.server.reembed.retained import OpenEngine, RetainedGenerations
from scenesearch.server.reembed.runner import Move
from scenesearch.server.reembed.state import Missing, MoveState, MoveStatus, MoveTable
from scenesearch.server.reembed.swap import Swapper
from scenesearch.server.storage.store import Store

log = logging.getLogger(__name__)

LoadEmbedder = Callable[[str], DualEncoder]
MakeWorker = Callable[[str], IngestWorker]
# (generation name, model id, its loaded embedder, its started worker) -> its wiring
BuildParts = Callable[[str, str, DualEncoder, IngestWorker], GenerationParts]


class Reembedder:
    def __init__(
        self,
        layout: Layout,
        active: ActiveGeneration[GenerationParts],
        load_embedder: LoadEmbedder,
        make_worker: MakeWorker,
        build: BuildParts,
        retire: Callable[[GenerationParts], None],
        stall_timeout_s: float,
        open_store: Callable[[Path], Store] = Store.open,
        open_engine: OpenEngine | None = None,
    ) -> None:
        self._layout, self._active = layout, active
        self._load, self._make_worker, self._build = load_embedder, make_worker, build
        self._retire, self._open_store = retire, open_store
        self._retained = (
            None if open_engine is None else RetainedGenerations(layout, active, open_engine)
        )
        self._stall_timeout_s = stall_timeout_s
        self._lock = threading.Lock()
        self._move: Move | None = None
        self._last: MoveStatus | None = None

    @property
    def move(self) -> Move | None:
        return self._move

    def start(self, model: str, missing: Missing) -> Move:
        model = model.strip()
        with self._lock:
            if self._move is not None and self._move.running:
                info = self._move.info
                status = self._move.bulletin.latest
                raise FailedPrecondition(
                    f"a move to {info.target_model!r} is already running ({status.done}/"
                    f"{status.total} videos); follow it with `scenesearch reembed --watch` "
                    "or stop it with `scenesearch reembed --cancel`"
                )
            source = self._active.deps
            if not model:
                raise InvalidArgument("say which model to move to: --model HUB_ID_OR_DIRECTORY")
            if same_model(model, source.model):
                raise InvalidArgument(
                    f"the library already uses {source.model!r}; name a different model"
                )
            looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1
            if looks_like_path and not Path(model).expanduser().is_dir():
                raise InvalidArgument(
                    f"there is no model directory {model!r} on the server; give a directory "
                    "saved with save_pretrained, or a hub id such as "
                    "google/siglip-base-patch16-224"
                )
            embedder = self._load_checked(model)
            active = self._layout.active()
            for stale in self._layout.others():  # a failed move's generation: replaced
                if stale.number > active.number:
                    self._layout.remove(stale)
            generation = self._layout.new_generation(model)
            store = self._open_store(generation.path)
            store.bind_model(model, embedder.dim)
            table = MoveTable(store, generation.name)
            table.create(source.generation, source.model, model, missing)
            log.info("re-embedding the library into generation %s with %s", generation.name, model)
            return self._launch(table, store, model, embedder)

    def _load_checked(self, model: str) -> DualEncoder:
        try:
            return self._load(model)
        except ModelLoadError as exc:
            raise InvalidArgument(f"cannot move to {model!r}: {exc}") from exc
        except (OSError, ValueError) as exc:  # e.g. a directory without a checkpoint
            raise InvalidArgument(
                f"cannot move to {model!r}: {exc}; give a directory saved with "
                "save_pretrained or a hub id"
            ) from exc

    def _launch(self, table: MoveTable, store: Store, model: str, embedder: DualEncoder) -> Move:
        def build(name: str, worker: IngestWorker) -> GenerationParts:
            return self._build(name, model, embedder, worker)

        swapper = Swapper(self._layout, self._active, build, self._retire)
        worker = self._make_worker(model)
        worker.launch()
        move = Move(self._active, table, store, worker, swapper.try_swap, self._stall_timeout_s)
        move.on_end = self._ended
        self._move = move
        return move.start()

    def _ended(self, move: Move) -> None:
        self._last = move.bulletin.latest
        if self._last.info.state is MoveState.CANCELLED:
            self._layout.remove(self._layout.by_name(move.table.generation))

    def resume(self) -> Move | None:
        """At start-up: continue an unfinished move, tidy a cancelled one."""
        active = self._layout.active()
        table = MoveTable(self._active.deps.store, active.name)
        info = table.info()
        if info is not None and info.state is not MoveState.DONE:
            # A crash between the pointer write (the swap's commit point) and this mark.
            table.set_state(MoveState.DONE, f"the library now answers with {info.target_model}")
        for generation in self._layout.others():
            if generation.number <= active.number:
                continue
            table, store = self._open(generation)
            info = table.info()
            if info is None or info.state is MoveState.CANCELLED:
                self._layout.remove(generation)
                continue
            if info.state is MoveState.DONE:
                continue
            log.info("resuming the move to %s (generation %s)", info.target_model, generation.name)
            table.set_state(MoveState.BUILDING)
            try:
                embedder = self._load(info.target_model)
            except (ModelLoadError, OSError, ValueError) as exc:
                table.set_state(MoveState.FAILED, f"the target model does not load: {exc}")
                self._last = table.status()
                return None
            with self._lock:
                return self._launch(table, store, info.target_model, embedder)
        return None

    def _open(self, generation: Generation) -> tuple[MoveTable, Store]:
        store = self._open_store(generation.path)
        return MoveTable(store, generation.name), store

    def status(self) -> MoveStatus | None:
        """The move in progress, else the last one (from disk after a restart)."""
        if self._move is not None:
            return self._move.bulletin.latest
        if self._last is None:
            for generation in reversed(self._layout.others()):
                self._last = self._open(generation)[0].status()
                if self._last is not None:
                    break
        return self._last

    def search_retained(
        self, generation: str, query: Query, options: SearchOptions
    ) -> tuple[SearchResult, str]:
        """Search the videos kept on a retained generation, with its model."""
        if self._retained is None:
            raise FailedPrecondition("this server does not search retained generations")
        return self._retained.search(generation, query, options)

    def shutdown(self) -> None:
        """The server stops: end the move's thread; it resumes at the next start."""
        move = self._move
        if move is not None and move.running:
            move.stop()

    def cancel(self) -> MoveStatus:
        move = self._move
        if move is None or not move.running:
            raise FailedPrecondition(
                "no move is running; `scenesearch reembed --status` shows the last one"
            )
        move.cancel()
        return move.bulletin.latest
