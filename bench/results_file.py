"""Print a benchmark's table and write it to its results file."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, out: Path, echo: bool = True) -> None:
    if echo:
        print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
