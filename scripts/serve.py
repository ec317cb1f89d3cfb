"""`make serve`: a scenesearch server and the web UI over it, together; Ctrl-C stops both.

The server gets the data dir `index_data/` (SCENESEARCH_DATA_DIR), 127.0.0.1:50051
(SCENESEARCH_ADDRESS) and the model chosen as in the demo: SCENESEARCH_MODEL, else the hub's
ViT-B/32 when the hub answers, else random ViT-B/32 weights (so the whole flow works with
no network; text rankings are then meaningless). Extra arguments go to the server, e.g.
`make serve SERVE_ARGS="--media-root ~/Videos"`. The web UI listens on WEB_LISTEN
(default 127.0.0.1:8080).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from scenesearch.contract import DEFAULT_ADDRESS
from scripts.demo import choose_model
from tests.support.launch import spawn_server

BIN = Path(sys.executable).parent


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    address = os.environ.get("SCENESEARCH_ADDRESS", DEFAULT_ADDRESS)
    listen = os.environ.get("WEB_LISTEN", "127.0.0.1:8080")
    data = os.environ.get("SCENESEARCH_DATA_DIR", "index_data")
    args = ["--data-dir", data, "--address", address, *argv]
    if "--model" not in argv:
        args += ["--model", choose_model()]
    print(f"starting the scenesearch server on {address} (data in {data}/) ...", flush=True)
    try:
        server, address = spawn_server(args, echo=lambda line: print("  server:", line))
    except RuntimeError as exc:
        print(f"make serve: {exc} (is {address} already in use?)", file=sys.stderr)
        return 1
    host, _, port = listen.rpartition(":")
    print(
        f"\n\033[1mscenesearch web UI: http://{host}:{port}/\033[0m  (gRPC server {address})\n"
        "open it in a browser; Ctrl-C stops the web UI and the server\n",
        flush=True,
    )
    web = subprocess.Popen(
        [str(BIN / "scenesearch"), "--address", address, "web", "--listen", listen], text=True
    )
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(web)
        stop(server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
