"""Saved concepts in SQLite: the weights of each, the model that trained them, a version and
the examples they were learned from.

Tables of their own, created on open (as thumbnails.py does), so older data dirs simply start
with no concepts. Saving a name that exists replaces it with the next version; the examples
are kept so a concept can be shown, audited or retrained.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors
from scenesearch.server.errors import NotFound
from scenesearch.server.storage.schema import from_blobs, to_blob
from scenesearch.server.storage.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS concepts (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    weights BLOB NOT NULL,
    bias REAL NOT NULL,
    positive_vectors INTEGER NOT NULL,
    negative_vectors INTEGER NOT NULL,
    random_negatives INTEGER NOT NULL,
    cv_accuracy REAL,
    cv_folds INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS concept_examples (
    concept TEXT NOT NULL REFERENCES concepts(name) ON DELETE CASCADE,
    positive INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    scene_id INTEGER,
    image BLOB,
    text TEXT
);
CREATE INDEX IF NOT EXISTS concept_examples_by_concept ON concept_examples (concept);
"""


@dataclass(frozen=True, slots=True)
class Examples:
    """Marked examples of one side (positive or negative) of a concept."""

    scene_ids: tuple[int, ...] = ()
    images: tuple[bytes, ...] = ()
    texts: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.scene_ids) + len(self.images) + len(self.texts)


@dataclass(frozen=True, slots=True)
class Training:
    """What training produced: p(concept | x) = sigmoid(weights . x + bias), x a unit vector."""

    weights: npt.NDArray[np.float32]  # (dim,)
    bias: float
    positive_vectors: int
    negative_vectors: int  # marked ones and random library frames together
    random_negatives: int
    cv_accuracy: float | None  # balanced, over held-out examples; None: too few to tell
    cv_folds: int


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    version: int
    model: str
    training: Training
    positive: Examples
    negative: Examples
    created_at: float


COLUMNS = (
    "name, version, model, dim, weights, bias, positive_vectors, negative_vectors, "
    "random_negatives, cv_accuracy, cv_folds, created_at"
)


class ConceptTable:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.db.conn.executescript(SCHEMA)

    def save(
        self, name: str, model: str, training: Training, positive: Examples, negative: Examples
    ) -> Concept:
        """Insert or replace `name`, one version up; the whole concept in one transaction."""
        with self._store.write(searchable=False) as conn:
            row = conn.execute("SELECT version FROM concepts WHERE name = ?", (name,)).fetchone()
            version = 1 if row is None else int(row[0]) + 1
            conn.execute("DELETE FROM concept_examples WHERE concept = ?", (name,))
            conn.execute("DELETE FROM concepts WHERE name = ?", (name,))
            weights = training.weights.astype(np.float32)
            conn.execute(
                f"INSERT INTO concepts ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    name,
                    version,
                    model,
                    len(weights),
                    to_blob(weights),
                    float(training.bias),
                    training.positive_vectors,
                    training.negative_vectors,
                    training.random_negatives,
                    training.cv_accuracy,
                    training.cv_folds,
                    time.time(),
                ),
            )
            _insert_examples(conn, name, True, positive)
            _insert_examples(conn, name, False, negative)
        return self.get(name)

    def get(self, name: str) -> Concept:
        row = self._store.db.conn.execute(
            f"SELECT {COLUMNS} FROM concepts WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(
                f"there is no concept named {name!r}; `scenesearch concept list` shows the saved "
                "ones"
            )
        return self._concept(row)

    def all(self) -> list[Concept]:
        rows = self._store.db.conn.execute(
            f"SELECT {COLUMNS} FROM concepts ORDER BY name"
        ).fetchall()
        return [self._concept(r) for r in rows]

    def delete(self, name: str) -> int:
        """The deleted version; NotFound when there is no such concept."""
        version = self.get(name).version
        with self._store.write(searchable=False) as conn:
            conn.execute("DELETE FROM concept_examples WHERE concept = ?", (name,))
            conn.execute("DELETE FROM concepts WHERE name = ?", (name,))
        return version

    def random_frames(self, limit: int, exclude_scenes: Sequence[int], seed: int) -> Vectors:
        """Up to `limit` stored frame vectors of scenes drawn at random (reproducibly for a
        seed), none of `exclude_scenes`. Scene ids are drawn from the catalog's id range (no
        table scan); their frames come through the store's vector store, so this works on
        every backend (Milvus keeps no vectors in the catalog)."""
        conn = self._store.db.conn
        low, high = conn.execute("SELECT MIN(id), MAX(id) FROM scenes").fetchone()
        dim = self._store.dim
        if low is None or limit <= 0:
            return np.zeros((0, dim), dtype=np.float32)
        rng = np.random.default_rng(seed)
        tried = {int(s) for s in exclude_scenes}
        parts: list[Vectors] = []
        found = 0
        span = int(high) - int(low) + 1
        for _ in range(8):  # ids of deleted videos leave holes: draw again a few times
            wanted = limit - found
            if wanted <= 0 or len(tried) >= span:
                break
            drawn = np.unique(rng.integers(int(low), int(high) + 1, size=min(span, wanted)))
            ids = [int(i) for i in drawn.tolist() if int(i) not in tried]
            tried.update(ids)
            if ids:
                vectors = self._store.frames_of_scenes(ids).vectors[:wanted]
                parts.append(vectors)
                found += len(vectors)
        return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)

    def _concept(self, row: tuple[object, ...]) -> Concept:
        name = str(row[0])
        dim = int(row[3])  # type: ignore[call-overload]
        examples = self._store.db.conn.execute(
            "SELECT positive, scene_id, image, text FROM concept_examples WHERE concept = ? "
            "ORDER BY ordinal",
            (name,),
        ).fetchall()
        sides: dict[bool, tuple[list[int], list[bytes], list[str]]] = {
            True: ([], [], []),
            False: ([], [], []),
        }
        for positive, scene_id, image, text in examples:
            scenes, images, texts = sides[bool(positive)]
            if scene_id is not None:
                scenes.append(int(scene_id))
            elif image is not None:
                images.append(bytes(image))
            else:
                texts.append(str(text))
        return Concept(
            name=name,
            version=int(row[1]),  # type: ignore[call-overload]
            model=str(row[2]),
            training=Training(
                weights=from_blobs([row[4]], dim)[0],  # type: ignore[list-item]
                bias=float(row[5]),  # type: ignore[arg-type]
                positive_vectors=int(row[6]),  # type: ignore[call-overload]
                negative_vectors=int(row[7]),  # type: ignore[call-overload]
                random_negatives=int(row[8]),  # type: ignore[call-overload]
                cv_accuracy=None if row[9] is None else float(row[9]),  # type: ignore[arg-type]
                cv_folds=int(row[10]),  # type: ignore[call-overload]
            ),
            positive=Examples(*(tuple(x) for x in sides[True])),  # type: ignore[arg-type]
            negative=Examples(*(tuple(x) for x in sides[False])),  # type: ignore[arg-type]
            created_at=float(row[11]),  # type: ignore[arg-type]
        )


def _insert_examples(
    conn: sqlite3.Connection, name: str, positive: bool, examples: Examples
) -> None:
    rows: list[tuple[object, ...]] = []
    rows += [(s, None, None) for s in examples.scene_ids]
    rows += [(None, i, None) for i in examples.images]
    rows += [(None, None, t) for t in examples.texts]
    conn.executemany(
        "INSERT INTO concept_examples (concept, positive, ordinal, scene_id, image, text) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(name, int(positive), n, *r) for n, r in enumerate(rows)],
    )
