"""What both ends of the wire agree on: the names the API accepts, its defaults and bounds.

Each fact here has this one home. Plain Python with no dependencies, because the client
installs without the server's weight (torch, FAISS, PyAV) and must still offer the same
choices and limits as the server it talks to. The server's registries map each name below
to its implementation and check at import that none is missing (`require_registered`).
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_ADDRESS = "127.0.0.1:50051"
# Both sides set this as their gRPC send and receive limit; uploads are chunked well below it.
MAX_MESSAGE_BYTES = 16 * 1024**2

# Scene detectors: name accepted by IngestOptions.detector → what it looks for.
DETECTORS: dict[str, str] = {
    "content": "fast cuts: change in hue, saturation, brightness and edges (the default)",
    "adaptive": "fast cuts, judged against a rolling average; steadier under camera motion",
    "threshold": "fades to and from black",
    "histogram": "change in the luma histogram",
}
DEFAULT_DETECTOR = "content"

# Vector index kinds: name accepted by --index and RebuildIndex → what it trades.
INDEX_KINDS: dict[str, str] = {
    "flat": "exact inner product; best up to about 1M scenes",
    "hnsw": "graph search; fastest at scale, about 10% more memory than flat",
    "ivfpq": "compressed inverted lists; least memory, needs training data",
    "lsh": "random-hyperplane hashes re-ranked exactly; small and simple",
}
DEFAULT_INDEX_KIND = "flat"

# Sampling: one frame per interval of presentation time (plus the first frame of each scene).
DEFAULT_SAMPLE_INTERVAL_S = 1.0
SAMPLE_INTERVAL_RANGE_S = (0.01, 3600.0)

DEFAULT_TOP_K = 10
MAX_TOP_K = 1000


def check_sample_interval(seconds: float) -> float:
    """The interval if it is within bounds; ValueError with the bounds otherwise."""
    low, high = SAMPLE_INTERVAL_RANGE_S
    if not low <= seconds <= high:
        raise ValueError(
            f"sample_interval_s must be between {low} and {high:.0f} seconds, got {seconds}"
        )
    return seconds


def check_choice(kind: str, name: str, choices: Iterable[str]) -> str:
    """`name` if it is one of `choices`; ValueError that lists them otherwise."""
    options = tuple(choices)
    if name not in options:
        raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(options)}")
    return name


def choices_help(choices: dict[str, str]) -> str:
    """One line of help naming each choice and what it is for (escaped for argparse)."""
    return "; ".join(f"{name}: {what}" for name, what in choices.items()).replace("%", "%%")


def require_registered(kind: str, names: Iterable[str], registered: Iterable[str]) -> None:
    """Fail at import when a registry and the contract disagree, not at a user's request."""
    missing, extra = set(names) - set(registered), set(registered) - set(names)
    if missing or extra:
        raise RuntimeError(
            f"{kind} registry out of step with scenesearch.contract: "
            f"missing {sorted(missing)}, unlisted {sorted(extra)}"
        )
