"""Which Milvus to use and how (`--milvus-uri`, `--milvus-token`, `--milvus-db`,
`--milvus-prefix`, `--milvus-consistency`), and the small conversions every Milvus module
shares. pymilvus is imported only when a client is made: the extra is optional."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenesearch.server.domain import Vectors

DEFAULT_PREFIX = "scenesearch"
# Session: this server reads its own writes at once (it is the only writer), without the
# wait for every node's clock that Strong costs (~200-400 ms a query on Milvus 2.3).
DEFAULT_CONSISTENCY = "Session"
CONSISTENCY_LEVELS = ("Strong", "Session", "Bounded", "Eventually")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,180}$")


@dataclass(frozen=True, slots=True)
class MilvusTarget:
    uri: str
    token: str = ""
    db: str = ""
    prefix: str = DEFAULT_PREFIX
    consistency: str = DEFAULT_CONSISTENCY

    def __post_init__(self) -> None:
        if not self.uri:
            raise ValueError("--backend milvus needs --milvus-uri, e.g. http://127.0.0.1:19530")
        if not _NAME.match(self.prefix):
            raise ValueError(
                f"--milvus-prefix {self.prefix!r} must start with a letter or '_' and hold only "
                "letters, digits and '_' (Milvus collection names)"
            )
        if self.consistency not in CONSISTENCY_LEVELS:
            raise ValueError(
                f"--milvus-consistency must be one of {', '.join(CONSISTENCY_LEVELS)}, "
                f"got {self.consistency!r}"
            )

    def client(self) -> Any:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=self.uri, token=self.token)
        if self.db and self.db != "default":
            if self.db not in client.list_databases():
                client.create_database(self.db)
            client.use_database(self.db)
        return client

    def collection_base(self, store_id: str) -> str:
        return f"{self.prefix}_{store_id}"


def id_list(ids: Sequence[int] | np.ndarray) -> str:
    """A Milvus expression list of integer ids."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def as_matrix(rows: Sequence[Any], dim: int) -> Vectors:
    if len(rows) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), dim)
