"""The VectorIndex contract every index kind implements, and its on-disk envelope.

Vectors are L2-normalised float32, so inner product equals cosine similarity; every kind
returns cosine scores (higher is better), which keeps scores comparable across kinds.

`search(queries, k, id_filter)` takes an optional IdFilter (ids allowed, ids denied). Kinds
whose FAISS index accepts search parameters (flat, HNSW, IVF) filter inside FAISS with an
IDSelector; LSH, which does not, filters its Hamming candidates before re-ranking them.
`stored_vectors(ids)` returns exact vectors for ids (from the index's own storage when it
keeps raw vectors, else from the store), for exact scoring of small selections.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
# Exact stored vectors for ids (the store's, in the server): returns the ids found and their rows.
VectorLookup = Callable[[Ids], tuple[Ids, Vectors]]

MAGIC = b"SSIDX001"


def _no_ids() -> Ids:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class IdFilter:
    """The ids a search may return: `allow` (sorted, unique; None = every id) minus `deny`."""

    allow: Ids | None = None
    deny: Ids = field(default_factory=_no_ids)

    @property
    def empty(self) -> bool:
        return self.allow is None and len(self.deny) == 0

    def fraction(self, total: int) -> float:
        """Share of an index of `total` ids this filter lets through (an estimate)."""
        if total <= 0:
            return 1.0
        kept = total if self.allow is None else len(self.allow)
        return max(0.0, min(1.0, (kept - len(self.deny)) / total))

    def keep(self, ids: Ids) -> npt.NDArray[np.bool_]:
        """Mask of the ids this filter lets through (-1 never passes)."""
        ok = ids >= 0
        if self.allow is not None:
            if len(self.allow) == 0:
                return np.zeros(ids.shape, dtype=bool)
            pos = np.minimum(np.searchsorted(self.allow, ids), len(self.allow) - 1)
            ok &= self.allow[pos] == ids
        if len(self.deny):
            ok &= ~np.isin(ids, self.deny)
        return ok

    def selector(self) -> tuple[faiss.IDSelector, list[Any]]:
        """A FAISS selector for this filter, and the objects that must outlive the search."""
        keep: list[Any] = []
        parts: list[faiss.IDSelector] = []
        if self.allow is not None:
            allow = np.ascontiguousarray(self.allow, dtype=np.int64)
            top = int(allow[-1]) + 1 if len(allow) else 1
            if top <= 64 * len(allow) + (1 << 23):  # a bitmap of at most ~1 MB extra
                mask = np.zeros(top, dtype=bool)
                mask[allow] = True
                bitmap = np.packbits(mask, bitorder="little")
                keep.append(bitmap)
                parts.append(faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)))
            else:
                parts.append(faiss.IDSelectorBatch(allow))
        if len(self.deny):
            denied = faiss.IDSelectorBatch(np.ascontiguousarray(self.deny, dtype=np.int64))
            keep.append(denied)
            parts.append(faiss.IDSelectorNot(denied))
        return combine(parts, keep), keep


def combine(parts: list[faiss.IDSelector], keep: list[Any]) -> faiss.IDSelector:
    """AND of selectors (the pieces are appended to `keep`, which must outlive the search)."""
    keep.extend(parts)
    selector = parts[0] if parts else faiss.IDSelectorAll()
    for part in parts[1:]:
        selector = faiss.IDSelectorAnd(selector, part)
        keep.append(selector)
    keep.append(selector)
    return selector


class VectorIndex(Protocol):
    kind: str

    def add(self, ids: Ids, vectors: Vectors) -> None: ...

    def remove(self, ids: Ids) -> int:
        """Remove ids; returns how many were present."""
        ...

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        """Top-k per query as (scores, ids), best first; missing slots have id -1. With a
        filter, only ids it lets through are returned."""
        ...

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        """Exact vectors of the ids present, in the order given."""
        ...

    def count(self) -> int: ...

    def params(self) -> dict[str, str]:
        """Effective parameters, for GetStats and logs."""
        ...

    def note(self) -> str:
        """A remark for people, e.g. a fallback in effect; empty when none."""
        ...

    def to_bytes(self) -> bytes: ...


def single_threaded_queries() -> None:
    """Run in each RPC worker thread: FAISS calls made from it use one OpenMP thread.

    A query is one vector, which FAISS does not split across threads anyway, but every OpenMP
    region it enters wakes a team of threads kept per calling thread (16 RPC threads: 16
    teams spinning on 2 cores). `omp_set_num_threads` sets only the calling thread's value,
    so index builds and training on other threads keep every core. Measured from a 16-thread
    pool at 20k vectors on a quiet machine: HNSW search 125 -> 70 us, flat 4.3 -> 2.5 ms."""
    faiss.omp_set_num_threads(1)


def int_param(params: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"index parameter {key}={raw!r} must be an integer") from None
    if value < minimum:
        raise ValueError(f"index parameter {key}={value} must be at least {minimum}")
    return value


def as_ids(ids: Any) -> Ids:
    return np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)


def as_vectors(vectors: Any, dim: int) -> Vectors:
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.shape[1] != dim:
        raise ValueError(f"vectors have dimension {arr.shape[1]}, the index expects {dim}")
    return arr


# Re-ranking depth: k * rerank candidates for the first RERANK_HEAD results, then one
# candidate per further result, so top_k=1000 does not re-score k * rerank stored vectors.
RERANK_HEAD = 100


def rerank_fetch(k: int, factor: int) -> int:
    """Approximate candidates to take for an exact re-rank of the top k."""
    return min(k, RERANK_HEAD) * factor + max(0, k - RERANK_HEAD)


def rerank(
    queries: Vectors,
    candidates: Ids,
    k: int,
    lookup: VectorLookup,
    id_filter: IdFilter | None = None,
    per_query: int | None = None,
) -> tuple[Scores, Ids]:
    """Exact cosine re-ranking of approximate candidates with the stored vectors. A filter is
    applied first, then at most `per_query` of the best candidates left are re-scored."""
    n = len(queries)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    ids = np.full((n, k), -1, dtype=np.int64)
    for row in range(n):
        mask = candidates[row] >= 0 if id_filter is None else id_filter.keep(candidates[row])
        wanted = candidates[row][mask][:per_query]
        found, vectors = lookup(wanted)
        if len(found) == 0:
            continue
        exact = vectors @ queries[row]
        top = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(top)] = exact[top]
        ids[row, : len(top)] = found[top]
    return scores, ids


def pack(*parts: bytes) -> bytes:
    """Several byte strings in one payload, each prefixed by its length."""
    return b"".join(struct.pack("<Q", len(p)) + p for p in parts)


def unpack(data: bytes) -> list[bytes]:
    parts, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        parts.append(data[offset + 8 : offset + 8 + length])
        offset += 8 + length
    return parts


def serialize(index: faiss.Index) -> bytes:
    return bytes(faiss.serialize_index(index))


def deserialize(data: bytes) -> faiss.Index:
    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))


def write_atomic(path: Path, header: Mapping[str, Any], payload: bytes) -> None:
    """Header and index in one file: temp file, fsync, os.replace, fsync of the directory.

    One file means the generation recorded in the header can never describe another index.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps(dict(header)).encode()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC + struct.pack("<Q", len(head)) + head)
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_envelope(path: Path) -> tuple[dict[str, Any], bytes]:
    """Return (header, payload); raises ValueError for a file that is not a saved index."""
    data = path.read_bytes()
    if len(data) < 16 or data[:8] != MAGIC:
        raise ValueError(f"{path} is not a scenesearch index file")
    (length,) = struct.unpack("<Q", data[8:16])
    try:
        header = json.loads(data[16 : 16 + length])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} has a damaged header") from exc
    return header, data[16 + length :]
