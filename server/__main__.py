"""`python -m scenesearch.server`: run the server (same as `scenesearch serve`)."""

from __future__ import annotations

import argparse
import logging
import sys

from scenesearch.server.config import add_server_arguments, settings_from_args
from scenesearch.server.errors import ModelLoadError, ModelMismatch


def run(args: argparse.Namespace) -> int:
    from scenesearch.server.app import serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        serve(settings_from_args(args))
    except (ModelLoadError, ModelMismatch, ValueError) as exc:
        print(f"scenesearch: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scenesearch.server", description=__doc__)
    add_server_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
