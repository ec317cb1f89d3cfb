"""Start `scenesearch serve` as a child process and learn its port (scripts, benches, tests)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

READY = re.compile(r"listening on port (\d+)")


def spawn_server(
    args: Sequence[str],
    echo: Callable[[str], None] | None = None,
    command: Sequence[str] = (sys.executable, "-m", "scenesearch.server"),
) -> tuple[subprocess.Popen[str], str]:
    """Run `COMMAND ARGS` (add `--address 127.0.0.1:0` for a free port); return the process
    and its "127.0.0.1:PORT" once it listens. `command` may be `("scenesearch", "serve")`.

    The log keeps being drained afterwards, so the server never blocks on a full pipe.
    """
    proc = subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stdout = proc.stdout
    assert stdout is not None
    for line in stdout:
        if echo is not None:
            echo(line.rstrip())
        if match := READY.search(line):
            threading.Thread(target=stdout.read, daemon=True).start()
            return proc, f"127.0.0.1:{match.group(1)}"
    raise RuntimeError(f"the server exited with code {proc.wait()} before listening")
