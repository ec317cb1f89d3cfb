"""Frozen server settings: the only place that reads flags and environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scenesearch.contract import (
    DEFAULT_ADDRESS,
    DEFAULT_INDEX_KIND,
    DETECTORS,
    INDEX_KINDS,
    MAX_MESSAGE_BYTES,
    MAX_TOP_K,
    check_choice,
    choices_help,
)
from scenesearch.server.domain import IngestParams
from scenesearch.server.storage.milvus_target import (
    CONSISTENCY_LEVELS,
    DEFAULT_CONSISTENCY,
    DEFAULT_PREFIX,
    MilvusTarget,
)

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
DEFAULT_DATA_DIR = "index_data"
# Inference runtimes (--runtime) → what each is; server/models/registry.py implements them.
RUNTIMES: dict[str, str] = {
    "auto": "on the CPU, the fastest runtime whose vectors agree with torch fp32 (cosine >= "
    "0.99), measured at first start and cached in the data dir; torch elsewhere",
    "torch": "transformers on torch, on any device",
    "onnx": "ONNX Runtime on the CPU, fp32 or int8 weights, whichever is faster and agrees",
    "openvino": "OpenVINO on the CPU",
}

# Where vectors live and what searches them (--backend); server/index/backends.py wires them.
BACKENDS: dict[str, str] = {
    "faiss": "vectors in the SQLite catalog, searched by an in-process FAISS index (embedded "
    "default: nothing else to run)",
    "milvus": "vectors in Milvus collections (--milvus-uri), filtered and searched there; "
    "SQLite stays the catalog",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every server setting with its default; the flags below take their defaults from here."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    address: str = DEFAULT_ADDRESS
    model: str = DEFAULT_MODEL
    device: str = "auto"
    precision: str = "auto"
    runtime: str = "auto"
    media_roots: tuple[Path, ...] = ()
    index_kind: str = DEFAULT_INDEX_KIND
    index_params: Mapping[str, str] = field(default_factory=dict)
    ingest: IngestParams = field(default_factory=IngestParams)
    # A decode that makes no progress for this long is considered hung and is killed.
    stall_timeout_s: float = 120.0
    max_upload_bytes: int = 2 * 1024**3
    # Keep uploaded files (content-addressed under the data dir) so they can be played.
    keep_uploads: bool = True
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_top_k: int = MAX_TOP_K
    max_workers: int = 16
    # Beyond this many RPCs in flight, new ones get RESOURCE_EXHAUSTED at once.
    max_concurrent_rpcs: int = 64
    max_queued_jobs: int = 64
    auth_token: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Seconds an in-flight RPC gets to finish on SIGTERM.
    shutdown_grace_s: float = 10.0
    # Prometheus endpoint on the gRPC address's host: None = off, 0 = a free port.
    metrics_port: int | None = None
    backend: str = "faiss"
    milvus: MilvusTarget | None = None  # --backend milvus only
    # host:port of the primary this server is a read-only search replica of (server/replica/).
    replica_of: str = ""
    # Seconds between a replica's polls of the primary's GetStats (it bounds the staleness).
    replica_sync_s: float = 1.0

    def __post_init__(self) -> None:
        check_choice("index kind", self.index_kind, INDEX_KINDS)
        check_choice("backend", self.backend, BACKENDS)
        if self.backend == "milvus" and self.milvus is None:
            raise ValueError("--backend milvus needs --milvus-uri, e.g. http://127.0.0.1:19530")
        check_choice("runtime", self.runtime, RUNTIMES)
        if self.replica_of and self.backend != "milvus":
            raise ValueError(
                "--replica-of needs --backend milvus (with the primary's --milvus-uri): a "
                "faiss primary's vectors live in its own files, out of another machine's reach"
            )
        if not self.replica_sync_s > 0:
            raise ValueError(f"--replica-sync-s must be positive, got {self.replica_sync_s}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"--metrics-port {self.metrics_port} is not a port (0 to 65535)")


DEFAULTS = Settings()


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--data-dir", default=env.get("SCENESEARCH_DATA_DIR", DEFAULT_DATA_DIR))
    parser.add_argument(
        "--address",
        default=env.get("SCENESEARCH_ADDRESS", DEFAULT_ADDRESS),
        help="host:port to listen on (port 0 picks a free port)",
    )
    parser.add_argument(
        "--model",
        default=env.get("SCENESEARCH_MODEL", DEFAULT_MODEL),
        help="CLIP model: a HuggingFace hub id or a local directory (env SCENESEARCH_MODEL)",
    )
    parser.add_argument(
        "--device",
        default=env.get("SCENESEARCH_DEVICE", DEFAULTS.device),
        help="auto (cuda, hpu, mps, cpu in that order), or one of cpu/cuda/cuda:N/hpu/mps",
    )
    parser.add_argument(
        "--precision",
        default=env.get("SCENESEARCH_PRECISION", DEFAULTS.precision),
        choices=("auto", "fp32", "bf16", "fp16"),
        help="inference precision; auto is fp16 on CUDA/MPS, bf16 on Gaudi and on CPUs with "
        "AMX, else fp32",
    )
    parser.add_argument(
        "--runtime",
        default=env.get("SCENESEARCH_RUNTIME", DEFAULTS.runtime),
        choices=tuple(RUNTIMES),
        help="; ".join(f"{name}: {what}" for name, what in RUNTIMES.items()),
    )
    parser.add_argument(
        "--media-root",
        action="append",
        default=None,
        help="directory that IngestVideo may read from (repeatable; env SCENESEARCH_MEDIA_ROOTS, "
        "colon separated). Without any, ingest by path is refused and only uploads work.",
    )
    parser.add_argument(
        "--index",
        default=env.get("SCENESEARCH_INDEX", DEFAULTS.index_kind),
        choices=tuple(INDEX_KINDS),
        help=choices_help(INDEX_KINDS),
    )
    parser.add_argument(
        "--index-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="index parameter, e.g. M=32, efSearch=128, nlist=1024, nbits=1024 (repeatable)",
    )
    for flag, (kind, key) in INDEX_FLAGS.items():
        parser.add_argument(
            "--" + flag.replace("_", "-"),
            type=int,
            default=None,
            help=f"{kind} index: {key}"
            + (" (0 = Hamming only, no re-rank)" if flag == "lsh_rerank" else ""),
        )
    ingest = DEFAULTS.ingest
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=ingest.sample_interval_s,
        help="seconds between sampled frames (default for requests that set none)",
    )
    parser.add_argument(
        "--detector",
        default=ingest.detector,
        choices=tuple(DETECTORS),
        help=choices_help(DETECTORS),
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=ingest.threshold,
        help="detector threshold (0 = the detector's own default)",
    )
    parser.add_argument("--batch-size", type=int, default=ingest.batch_size)
    parser.add_argument("--stall-timeout", type=float, default=DEFAULTS.stall_timeout_s)
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULTS.max_upload_bytes / 1024**2)
    parser.add_argument(
        "--discard-uploads",
        action="store_true",
        help="delete uploaded files once ingested (they cannot then be played or clipped)",
    )
    parser.add_argument(
        "--max-workers", type=int, default=DEFAULTS.max_workers, help="RPC handler threads"
    )
    parser.add_argument(
        "--max-concurrent-rpcs",
        type=int,
        default=DEFAULTS.max_concurrent_rpcs,
        help="RPCs in flight before new ones get RESOURCE_EXHAUSTED",
    )
    parser.add_argument(
        "--max-queued-jobs",
        type=int,
        default=DEFAULTS.max_queued_jobs,
        help="ingest jobs waiting before new ones get RESOURCE_EXHAUSTED",
    )
    parser.add_argument(
        "--auth-token",
        default=env.get("SCENESEARCH_AUTH_TOKEN", ""),
        help="require 'authorization: Bearer TOKEN' on every RPC but health "
        "(env SCENESEARCH_AUTH_TOKEN)",
    )
    parser.add_argument(
        "--tls-cert",
        default=env.get("SCENESEARCH_TLS_CERT"),
        help="PEM certificate chain; with --tls-key, serve TLS only",
    )
    parser.add_argument("--tls-key", default=env.get("SCENESEARCH_TLS_KEY"))
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=env.get("SCENESEARCH_METRICS_PORT") or None,
        help="serve Prometheus metrics over HTTP on this port, on the same host as --address "
        "(0 picks a free port; env SCENESEARCH_METRICS_PORT). Off by default. Plain HTTP "
        "without the auth token: keep it on a network only Prometheus can reach",
    )
    add_backend_arguments(parser)
    parser.add_argument(
        "--replica-of",
        default=env.get("SCENESEARCH_REPLICA_OF", ""),
        metavar="HOST:PORT",
        help="serve as a read-only search replica of this primary (--backend milvus, same "
        "Milvus): the data dir holds a copy of the primary's catalog, synced in the "
        "background; writes are refused with the primary's address (env SCENESEARCH_REPLICA_OF)",
    )
    parser.add_argument(
        "--replica-sync-s",
        type=float,
        default=DEFAULTS.replica_sync_s,
        help="seconds between a replica's checks of the primary for changes: how stale its "
        "library may be",
    )


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument(
        "--backend",
        default=env.get("SCENESEARCH_BACKEND", DEFAULTS.backend),
        choices=tuple(BACKENDS),
        help=choices_help(BACKENDS),
    )
    parser.add_argument(
        "--milvus-uri",
        default=env.get("SCENESEARCH_MILVUS_URI", ""),
        help="Milvus to use with --backend milvus, e.g. http://127.0.0.1:19530 "
        "(env SCENESEARCH_MILVUS_URI)",
    )
    parser.add_argument(
        "--milvus-token",
        default=env.get("SCENESEARCH_MILVUS_TOKEN", ""),
        help="Milvus token, 'user:password' or an API key (env SCENESEARCH_MILVUS_TOKEN)",
    )
    parser.add_argument("--milvus-db", default="", help="Milvus database (default: 'default')")
    parser.add_argument(
        "--milvus-prefix",
        default=DEFAULT_PREFIX,
        help="first part of the collection names; the rest is the data dir's own store id",
    )
    parser.add_argument(
        "--milvus-consistency",
        default=DEFAULT_CONSISTENCY,
        choices=CONSISTENCY_LEVELS,
        help="Milvus read consistency: Session reads this server's own writes at once",
    )


def milvus_target_from_args(args: argparse.Namespace) -> MilvusTarget | None:
    if not args.milvus_uri:
        return None
    return MilvusTarget(
        uri=args.milvus_uri,
        token=args.milvus_token,
        db=args.milvus_db,
        prefix=args.milvus_prefix,
        consistency=args.milvus_consistency,
    )


# Per-kind shortcut flags: --hnsw-m 32 is the same as --index-param M=32 with --index hnsw.
INDEX_FLAGS: dict[str, tuple[str, str]] = {
    "hnsw_m": ("hnsw", "M"),
    "hnsw_ef_search": ("hnsw", "efSearch"),
    "hnsw_ef_construction": ("hnsw", "efConstruction"),
    "ivf_nlist": ("ivfpq", "nlist"),
    "ivf_m": ("ivfpq", "m"),
    "ivf_nprobe": ("ivfpq", "nprobe"),
    "lsh_nbits": ("lsh", "nbits"),
    "lsh_rerank": ("lsh", "rerank"),
}


def parse_index_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"index parameter {pair!r} is not KEY=VALUE")
        params[key.strip()] = value.strip()
    return params


def settings_from_args(args: argparse.Namespace) -> Settings:
    roots: list[str] = list(args.media_root or [])
    if not roots and os.environ.get("SCENESEARCH_MEDIA_ROOTS"):
        roots = [r for r in os.environ["SCENESEARCH_MEDIA_ROOTS"].split(os.pathsep) if r]
    params = parse_index_params(args.index_param)
    for flag, (kind, key) in INDEX_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None and kind == args.index:
            params[key] = str(value)
    return Settings(
        data_dir=Path(args.data_dir),
        address=args.address,
        model=args.model,
        device=args.device,
        precision=args.precision,
        runtime=args.runtime,
        media_roots=tuple(Path(r).resolve() for r in roots),
        index_kind=args.index,
        index_params=params,
        ingest=IngestParams(
            sample_interval_s=args.sample_interval,
            detector=args.detector,
            threshold=args.threshold,
            batch_size=args.batch_size,
        ),
        stall_timeout_s=args.stall_timeout,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        keep_uploads=not args.discard_uploads,
        max_workers=args.max_workers,
        max_concurrent_rpcs=args.max_concurrent_rpcs,
        max_queued_jobs=args.max_queued_jobs,
        auth_token=args.auth_token,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        metrics_port=args.metrics_port,
        backend=args.backend,
        milvus=milvus_target_from_args(args),
        replica_of=args.replica_of,
        replica_sync_s=args.replica_sync_s,
    )
