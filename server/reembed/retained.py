"""Searching a retained generation: videos a move kept on the old model (their source was
gone) stay searchable there, with that model, and only there (invariant 3: a query is
embedded by one model and compared with that model's vectors only).

A retained generation is opened on first use (its store, index and model; no ingest), so a
server that never searches one pays nothing for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from scenesearch.server.config import Settings
from scenesearch.server.errors import FailedPrecondition, NotFound
from scenesearch.server.index.backends import REGISTRY as BACKENDS
from scenesearch.server.metrics.base import NO_METRICS
from scenesearch.server.models import DualEncoder
from scenesearch.server.query.search import Query, SearchEngine, SearchOptions, SearchResult
from scenesearch.server.query.text_batcher import TextBatcher
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.layout import Layout
from scenesearch.server.reembed.parts import GenerationParts
from scenesearch.server.reembed.startup import recorded_model
from scenesearch.server.storage.store import Store

# (generation name, its model) -> a search engine over that generation, read-only
OpenEngine = Callable[[str, str], SearchEngine]


class RetainedGenerations:
    def __init__(
        self,
        layout: Layout,
        active: ActiveGeneration[GenerationParts],
        open_engine: OpenEngine,
    ) -> None:
        self._layout, self._active, self._open_engine = layout, active, open_engine
        self._engines: dict[str, tuple[SearchEngine, str]] = {}
        self._lock = threading.Lock()

    def search(self, name: str, query: Query, options: SearchOptions) -> tuple[SearchResult, str]:
        """Search the kept videos in generation `name`; (the result, the model that answered)."""
        if name not in self._layout.pointer().retained:
            raise NotFound(
                f"generation {name!r} is not retained; only a generation that holds videos a "
                "re-embed kept on the old model is (`scenesearch reembed --status` lists them)"
            )
        rows = self._active.deps.store.db.conn.execute(
            "SELECT id FROM videos WHERE status = 'kept'"
        ).fetchall()
        kept = {int(r[0]) for r in rows}
        wanted = kept & set(options.video_ids) if options.video_ids else kept
        if not wanted:
            raise FailedPrecondition(
                f"no video kept on generation {name!r} matches; every other video is searched "
                "without a generation (with the current model)"
            )
        engine, model = self._engine(name)
        return engine.search(query, replace(options, video_ids=tuple(sorted(wanted)))), model

    def _engine(self, name: str) -> tuple[SearchEngine, str]:
        with self._lock:
            if name not in self._engines:
                model = recorded_model(self._layout.by_name(name))
                if model is None:
                    raise NotFound(f"generation {name!r} has no database left on the server")
                self._engines[name] = (self._open_engine(name, model), model)
            return self._engines[name]


def open_retained(
    settings: Settings, name: str, model: str, load: Callable[[str], DualEncoder]
) -> SearchEngine:
    """A read-only search engine over generation `name` with its model `model`."""
    directory = Layout(settings.data_dir).by_name(name).path
    backend = BACKENDS[settings.backend]
    store = Store.open(directory, backend.vectors(settings))
    embedder = load(model)
    store.bind_model(model, embedder.dim)  # refuses a model that did not write it
    index = backend.index(store, replace(settings, data_dir=directory), NO_METRICS)
    index.open()
    return SearchEngine(
        store,
        index,
        TextBatcher(embedder.embed_texts),
        embedder.embed_image_bytes,
        settings.max_top_k,
        calibrate=embedder.calibrate,
    )
