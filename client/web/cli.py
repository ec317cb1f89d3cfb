"""`scenesearch web`: run the web UI over a scenesearch server.

Only argparse at import time: the main CLI registers this command on every run, and
Starlette and uvicorn load only when the web UI starts.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

DEFAULT_LISTEN = "127.0.0.1:8080"


def add_web_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    web = sub.add_parser(
        "web",
        help="run the web UI (search, play, timeline, library) over a server",
        description="Serve the web UI. It talks to the scenesearch server over gRPC, so it "
        "may run on another machine. --token/--tls-ca/--timeout are the global flags.",
    )
    web.add_argument(
        "--server",
        default=None,
        help="address of the scenesearch server (default: --address, 127.0.0.1:50051)",
    )
    web.add_argument(
        "--listen",
        default=os.environ.get("SCENESEARCH_WEB_LISTEN", DEFAULT_LISTEN),
        help=f"HOST:PORT to serve the UI on (default {DEFAULT_LISTEN}; port 0: any free "
        "port). Anything but loopback exposes your library: put TLS and a token in front.",
    )
    web.add_argument(
        "--max-upload-mb", type=int, default=4096, help="largest upload the UI accepts"
    )
    web.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the UI answers to besides loopback ones and the --listen host "
        "(repeatable; '*' for any: only behind a proxy that checks it)",
    )
    # The global connection flags, also accepted after `web`; SUPPRESS keeps a value given
    # before `web` when none is given after it.
    web.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="the server's token, used for every browser (otherwise the UI asks for it)",
    )
    web.add_argument("--tls-ca", default=argparse.SUPPRESS, help="CA certificate (PEM)")
    web.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per call")
    web.set_defaults(func=cmd_web)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--listen wants HOST:PORT, such as {DEFAULT_LISTEN}; got {listen!r}")
    return host.strip("[]"), int(port)


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting, so port 0 gives a real port to print and tests to use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@dataclass
class RunningWeb:
    """A web UI served from a thread (tests, the demo); `stop()` ends it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def uvicorn_server(app: Starlette) -> uvicorn.Server:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(config)


def serve_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> RunningWeb:
    sock = bind(host, port)
    server = uvicorn_server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="scenesearch-web", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    if not server.started:
        raise RuntimeError("the web UI did not start")
    return RunningWeb(url_of(sock), server, thread)


def build_app(args: argparse.Namespace) -> Starlette:
    from scenesearch.client.web.app import create_app
    from scenesearch.client.web.common import LOOPBACK_NAMES, WebConfig
    from scenesearch.client.web.gateway import ServerTarget

    ca = Path(args.tls_ca).read_bytes() if args.tls_ca else None
    target = ServerTarget(args.server or args.address, args.timeout, args.token, ca)
    host, _ = parse_listen(args.listen)
    hosts = [*LOOPBACK_NAMES, *args.allowed_host]
    if host not in ("0.0.0.0", "::", ""):
        hosts.append(host)
    config = WebConfig(
        target,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        allowed_hosts=tuple(dict.fromkeys(hosts)),
    )
    return create_app(config)


def cmd_web(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
        sock = bind(host, port)
    except (ValueError, OSError) as exc:
        print(f"scenesearch web: {exc}", file=sys.stderr)
        return 2
    app = build_app(args)
    url = url_of(sock)
    print(f"scenesearch web UI on {url}  (server {args.server or args.address})", flush=True)
    print(f"open {url} in a browser; Ctrl-C stops it", flush=True)
    uvicorn_server(app).run(sockets=[sock])
    return 0
