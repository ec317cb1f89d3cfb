"""What every CLI command shares: the consoles, the connection flags, the --json switch."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from scenesearch.client.remote import SceneSearchClient
from scenesearch.contract import DEFAULT_ADDRESS

# Pipes and captured output get a wide table rather than 80 squeezed columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--address", default=env.get("SCENESEARCH_ADDRESS", DEFAULT_ADDRESS))
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline per call, seconds")
    parser.add_argument("--token", default=env.get("SCENESEARCH_TOKEN"))
    parser.add_argument(
        "--tls-ca",
        default=env.get("SCENESEARCH_TLS_CA"),
        help="CA certificate (PEM) to verify a TLS server",
    )


def connect(args: argparse.Namespace) -> SceneSearchClient:
    ca = Path(args.tls_ca).read_bytes() if args.tls_ca else None
    return SceneSearchClient(
        args.address, timeout_s=args.timeout, token=args.token, root_certificates=ca
    )


def with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser
