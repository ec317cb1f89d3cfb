"""The swap: the target generation becomes the active one, atomically, once it matches the
source.

Under the active generation's exclusive gate (no write runs or starts): no ingest job may be
queued or running in the source (job rows in its db say so exactly, including a job between
the queue and its commit), and the target must hold every source video. Then the target's
wiring is built (index from its SQLite, a job runner with the new model), concepts are
retrained from their stored examples, and the pointer is written: that write is the commit
point. A crash before it leaves the old generation active and the move resumable; after
it, the new generation is active at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from scenesearch.server.errors import SceneSearchError
from scenesearch.server.ingest.worker import IngestWorker
from scenesearch.server.query.concepts import ConceptSpec
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.commit import copy_id_counters
from scenesearch.server.reembed.layout import Layout, Pointer
from scenesearch.server.reembed.parts import GenerationParts
from scenesearch.server.reembed.runner import Move
from scenesearch.server.reembed.state import MoveState, MoveTable, VideoState
from scenesearch.server.storage.concepts import ConceptTable

log = logging.getLogger(__name__)

# Build the wiring of a generation (by name) for the target model: store, index, job runner
# (given the move's worker, already running the model), search, analytics, concepts.
BuildGeneration = Callable[[str, IngestWorker], GenerationParts]


def jobs_in_flight(parts: GenerationParts) -> int:
    row = parts.store.db.conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"
    ).fetchone()
    return int(row[0])


class Swapper:
    def __init__(
        self,
        layout: Layout,
        active: ActiveGeneration[GenerationParts],
        build: BuildGeneration,
        retire: Callable[[GenerationParts], None],
    ) -> None:
        self._layout, self._active = layout, active
        self._build, self._retire = build, retire

    def try_swap(self, move: Move) -> bool:
        if jobs_in_flight(self._active.deps) or not move.sync_plan():
            return False  # cheap checks first, without holding writers back
        with self._active.exclusive() as source:
            if jobs_in_flight(source) or not move.sync_plan():
                return False
            copy_id_counters(source.store, move.target)
            target = self._build(move.table.generation, move.worker)
            move.hand_over_worker()
            retrain_concepts(source, target, move.table)
            kept = move.table.entries(VideoState.KEPT)
            old = self._layout.pointer()
            self._layout.write_pointer(
                Pointer(
                    active=move.table.generation,
                    previous_models=(*old.previous_models, source.model),
                    # the old generation holds the kept videos' only vectors
                    retained=(*old.retained, source.generation) if kept else old.retained,
                )
            )
            move.table.set_state(
                MoveState.DONE, f"the library now answers with {move.info.target_model}"
            )
            self._active.switch(target, self._retire)
        log.info("re-embed done: generation %s (%s) is active", move.table.generation, target.model)
        return True


def retrain_concepts(source: GenerationParts, target: GenerationParts, table: MoveTable) -> None:
    """Concept weights belong to one model: train each again from its stored examples (scene
    ids are kept by the move, images and texts are embedded by the new model). One that
    cannot be trained stays only in the old generation, listed as stale with the reason."""
    if source.concepts is None or target.concepts is None:
        return
    for concept in ConceptTable(source.store).all():
        try:
            target.concepts.save(ConceptSpec(concept.name, concept.positive, concept.negative))
            table.record_concept(concept.name, True)
        except SceneSearchError as exc:
            log.warning("concept %r not retrained: %s", concept.name, exc)
            table.record_concept(concept.name, False, str(exc))
