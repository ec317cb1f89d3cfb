"""The client installs without the server's weight: nothing it imports may need torch & co.

Each check runs in a fresh interpreter whose import system refuses the server-only packages,
as on a machine where only `pip install scenesearch` (no [server] extra) was run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SERVER_ONLY = (
    "torch",
    "transformers",
    "safetensors",
    "faiss",
    "av",
    "cv2",
    "scenedetect",
    "PIL",
    "sqlite_utils",
    "grpc_health",
    "grpc_reflection",
)

BLOCKER = textwrap.dedent(
    f"""
    import importlib.abc, sys

    class RefuseServerOnly(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {SERVER_ONLY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, RefuseServerOnly())
    """
)


def run_without_server(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_blocker_really_blocks() -> None:
    result = run_without_server("import torch")
    assert result.returncode != 0 and "No module named 'torch'" in result.stderr


def test_client_library_and_cli_import_without_server_packages() -> None:
    result = run_without_server(
        """
        import scenesearch.client.remote, scenesearch.client.cli, scenesearch.contract
        from scenesearch.client.cli import build_parser
        parser = build_parser()
        args = parser.parse_args(["search", "a dog", "--top-k", "3"])
        assert args.top_k == 3
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
        assert not loaded, loaded
        print("client ok")
        """.replace("{blocked!r}", repr(SERVER_ONLY))
    )
    assert result.returncode == 0, result.stderr
    assert "client ok" in result.stdout


def test_serve_without_the_server_extra_says_how_to_install_it() -> None:
    result = run_without_server(
        """
        from scenesearch.client.cli import main
        main(["serve", "--address", "127.0.0.1:0"])
        """
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'scenesearch[server]'" in result.stderr


def test_every_help_page_renders() -> None:
    """argparse formats help lazily: a stray '%' in one help text breaks only that page."""
    from scenesearch.client.cli import build_parser

    parser = build_parser()
    pages: list[list[str]] = [[]]
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        pages.append([name])
        for action in command._actions:
            if action.dest in ("action",) and action.choices:
                pages.extend([name, inner] for inner in action.choices)
    for args in pages:
        try:
            parser.parse_args([*args, "--help"])
        except SystemExit as done:
            assert done.code == 0, args
