"""Generations of a library on disk, and the pointer that names the active one.

A generation is self-contained: its own SQLite db and index file, one model. The data dir's
root holds generation "0" (so data dirs from before re-embedding work unchanged); later ones
live under `generations/<n>-<model slug>/`. Kept uploads (`media/`), spooled uploads and the
runtime cache stay at the root: they do not depend on the model.

The pointer (`generation.json`) is the commit point of a swap: written to a temp file,
fsynced and `os.replace`d, so after a crash it names either the old generation or the new
one, never something in between. No pointer means generation "0".
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POINTER = "generation.json"
GENERATIONS = "generations"
ROOT = "0"
DB_FILE = "scenesearch.db"  # the Store's file name inside a generation's directory


@dataclass(frozen=True, slots=True)
class Generation:
    name: str  # "0", or "<n>-<model slug>"
    path: Path  # the directory holding its db and index file

    @property
    def number(self) -> int:
        return int(self.name.split("-", 1)[0])


@dataclass(frozen=True, slots=True)
class Pointer:
    active: str = ROOT
    # Models the library moved away from, oldest first: starting the server with one of
    # these (an unchanged service command line) serves the active generation.
    previous_models: tuple[str, ...] = ()
    # Older generations kept because they hold videos whose source was gone ("keep").
    retained: tuple[str, ...] = field(default=())


def slug(model: str) -> str:
    """A directory-name-safe short form of a model id or path."""
    tail = model.rstrip("/").rsplit("/", 2)[-2:]
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(tail).lower()).strip("-")
    return text[-40:].strip("-") or "model"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power loss
    finally:
        os.close(fd)


def same_model(a: str, b: str) -> bool:
    """Model ids name the same checkpoint (a directory given two ways counts as one)."""
    if a == b:
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def pointer(self) -> Pointer:
        path = self.data_dir / POINTER
        if not path.exists():
            return Pointer()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Pointer(
            active=str(raw.get("active", ROOT)),
            previous_models=tuple(raw.get("previous_models", ())),
            retained=tuple(raw.get("retained", ())),
        )

    def write_pointer(self, pointer: Pointer) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            self.data_dir / POINTER,
            {
                "active": pointer.active,
                "previous_models": list(pointer.previous_models),
                "retained": list(pointer.retained),
            },
        )

    def by_name(self, name: str) -> Generation:
        if name == ROOT:
            return Generation(ROOT, self.data_dir)
        return Generation(name, self.data_dir / GENERATIONS / name)

    def active(self) -> Generation:
        return self.by_name(self.pointer().active)

    def others(self) -> list[Generation]:
        """Generation directories other than the root, by number."""
        base = self.data_dir / GENERATIONS
        if not base.is_dir():
            return []
        found = [
            self.by_name(p.name)
            for p in base.iterdir()
            if p.is_dir() and re.fullmatch(r"\d+-.+", p.name) and (p / DB_FILE).exists()
        ]
        return sorted(found, key=lambda g: g.number)

    def new_generation(self, model: str) -> Generation:
        numbers = [g.number for g in self.others()] + [self.active().number]
        base = self.data_dir / GENERATIONS
        taken = {p.name.split("-", 1)[0] for p in base.iterdir()} if base.is_dir() else set()
        number = max(numbers) + 1
        while str(number) in taken:  # a directory left without a db by a crash
            number += 1
        generation = self.by_name(f"{number}-{slug(model)}")
        generation.path.mkdir(parents=True)
        return generation

    def remove(self, generation: Generation) -> None:
        """Delete a non-root generation's directory (a cancelled or replaced move)."""
        if generation.name == ROOT:
            raise ValueError("the root generation is never removed")
        shutil.rmtree(generation.path, ignore_errors=True)
