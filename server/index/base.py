"""The VectorIndex contract every index kind implements, and its on-disk envelope.

Vectors are L2-normalised float32, so inner product equals cosine similarity; every kind
returns cosine scores (higher is better), which keeps scores comparable across kinds.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
# Exact stored vectors for ids (SQLite in the server): returns the ids found and their rows.
VectorLookup = Callable[[Ids], tuple[Ids, Vectors]]

MAGIC = b"SSIDX001"


class VectorIndex(Protocol):
    kind: str

    def add(self, ids: Ids, vectors: Vectors) -> None: ...

    def remove(self, ids: Ids) -> int:
        """Remove ids; returns how many were present."""
        ...

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        """Top-k per query as (scores, ids), best first; missing slots have id -1."""
        ...

    def count(self) -> int: ...

    def params(self) -> dict[str, str]:
        """Effective parameters, for GetStats and logs."""
        ...

    def note(self) -> str:
        """A remark for people, e.g. a fallback in effect; empty when none."""
        ...

    def to_bytes(self) -> bytes: ...


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


def rerank(queries: Vectors, candidates: Ids, k: int, lookup: VectorLookup) -> tuple[Scores, Ids]:
    """Exact cosine re-ranking of approximate candidates with the stored vectors."""
    n = len(queries)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    ids = np.full((n, k), -1, dtype=np.int64)
    for row in range(n):
        wanted = candidates[row][candidates[row] >= 0]
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
