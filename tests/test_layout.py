"""Structure rules the codebase keeps: no import cycles, no oversized modules, pure modules
stay pure."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"server": "scenesearch.server", "client": "scenesearch.client"}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {"scenesearch.contract": ROOT / "proto/scenesearch/contract.py"}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports_of(path: Path, known: set[str], module_level_only: bool = False) -> set[str]:
    """Modules of ours that `path` imports; with `module_level_only`, not those deferred
    inside functions. A deferred import still ties two modules together, so cycles count
    both."""
    tree = ast.parse(path.read_text())
    targets: set[str] = set()
    for node in tree.body if module_level_only else ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        targets.update(n for n in names if n in known)
    return targets


def test_no_import_cycles() -> None:
    mods = modules()
    graph = {name: imports_of(path, set(mods)) for name, path in mods.items()}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_client_never_imports_the_server_at_module_level() -> None:
    mods = modules()
    offenders = {
        name: sorted(
            t
            for t in imports_of(path, set(mods), module_level_only=True)
            if t.startswith("scenesearch.server")
        )
        for name, path in mods.items()
        if name.startswith("scenesearch.client")
    }
    assert not any(offenders.values()), offenders


def test_no_module_is_oversized() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert not {n: s for n, s in sizes.items() if s > MAX_LINES}


def test_pure_modules_do_not_load_torch() -> None:
    pure = (
        "scenesearch.server.ingest.pipeline.sample",
        "scenesearch.server.query.frame_maths",
        "scenesearch.server.vector_maths",
    )
    code = f"import sys\nfor m in {pure!r}:\n    __import__(m)\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
