"""Fail when the committed gRPC stubs differ from what `make proto` generates now."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = "scenesearch/v1/scenesearch.proto"
GENERATED = ("scenesearch_pb2.py", "scenesearch_pb2.pyi", "scenesearch_pb2_grpc.py")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        shutil.copytree(
            ROOT / "proto" / "scenesearch",
            out / "scenesearch",
            ignore=shutil.ignore_patterns("*.py", "*.pyi", "__pycache__"),
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{out}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(out / PROTO),
            ],
            check=True,
        )
        stale = [
            name
            for name in GENERATED
            if not filecmp.cmp(
                out / "scenesearch/v1" / name, ROOT / "proto/scenesearch/v1" / name, shallow=False
            )
        ]
    if stale:
        print(f"stale generated stubs: {', '.join(stale)}; run `make proto` and commit them")
        return 1
    print("generated stubs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
