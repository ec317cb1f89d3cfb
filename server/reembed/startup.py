"""Which generation a server starts on, and with which model.

The pointer names the active generation; its db records its model. `--model` may name that
model, or one the library moved away from (the service's command line from before the move:
it keeps working, with a log line saying which model answers). Any other model is refused,
as before re-embedding existed: vectors of two models are never compared (invariant 3).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from scenesearch.server.errors import ModelMismatch
from scenesearch.server.reembed.layout import DB_FILE, ROOT, Generation, Layout, same_model

log = logging.getLogger(__name__)


def recorded_model(generation: Generation) -> str | None:
    path = generation.path / DB_FILE
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def active_generation(data_dir: Path, requested: str) -> tuple[Generation, str]:
    """(the active generation, the model to serve it with)."""
    layout = Layout(data_dir)
    pointer = layout.pointer()
    generation = layout.by_name(pointer.active)
    if pointer.active == ROOT:
        return generation, requested  # Store.bind_model checks it, as it always did
    model = recorded_model(generation)
    if model is None or same_model(requested, model):
        return generation, model or requested
    if any(same_model(requested, old) for old in pointer.previous_models):
        log.warning(
            "%s moved from %r to %r with `scenesearch reembed`; serving generation %s with %r",
            data_dir,
            requested,
            model,
            generation.name,
            model,
        )
        return generation, model
    raise ModelMismatch(
        f"data dir {data_dir} now uses model {model!r} (generation {generation.name}); it "
        f"cannot be opened with {requested!r} because their vectors are not comparable. Start "
        f"the server with --model {model!r}, or move the library with `scenesearch reembed "
        f"--model {requested}`."
    )
