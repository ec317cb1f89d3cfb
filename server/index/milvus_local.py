"""A real Milvus 2.3 server on this machine, reachable on loopback only (the `milvus` extra's
embedded server), for tests, benchmarks, crash trials and single-machine trials of the Milvus
backend.

Milvus 2.3 listens on every interface (":port") whatever its config says: a component's `ip`
only sets the address it advertises. So the server runs in a network namespace of its own,
which has nothing but a loopback interface, with every component's `ip` rendered as
127.0.0.1; a forwarder in this process accepts on 127.0.0.1:PORT of the host and carries each
connection into the namespace. Nothing of it is reachable from another host. Needs
`unshare` and `setpriv` (util-linux) and `ip` (iproute2), and the right to make a network
namespace (root, as on CI and the dev machines).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Every Milvus component that takes an `ip` in the config; all are pinned to loopback.
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
HEALTH_PORT = 9091  # inside the namespace
START_TIMEOUT_S = 180.0
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class LocalMilvus:
    """A running server; `uri` (host loopback) is what `--milvus-uri` takes."""

    def __init__(self, proc: subprocess.Popen[bytes], base_dir: Path, inner_port: int) -> None:
        self.proc, self.base_dir, self.inner_port = proc, base_dir, inner_port
        self._forwarder = Forwarder(proc.pid, inner_port)
        self.port = self._forwarder.port

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace_s: float = 10.0) -> None:
        self._forwarder.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_local_milvus(base_dir: Path) -> LocalMilvus:
    """Start a Milvus server keeping its data under `base_dir`; raises ImportError without
    the `milvus` extra (pip install 'scenesearch[milvus]')."""
    import milvus  # the optional extra

    config = milvus.MilvusServerConfig(data_dir=str(base_dir))
    for component in COMPONENTS:
        config.set(f"{component}.ip", LOOPBACK)
    config.set("minio.address", LOOPBACK)
    config.resolve()  # renders configs/milvus.yaml under base_dir
    milvus._initialize_data_files(config.base_data_dir)
    exe = os.path.join(config.base_data_dir, "bin", "milvus")
    env = dict(os.environ)
    env.update(
        DEPLOY_MODE="STANDALONE",
        METRICS_PORT=str(HEALTH_PORT),
        MILVUS_RUN_DIR=os.path.join(config.base_data_dir, "run"),
        LD_LIBRARY_PATH=os.path.dirname(exe) + ":" + os.environ.get("LD_LIBRARY_PATH", ""),
    )
    logs = Path(config.base_data_dir) / "logs"
    started = time.perf_counter()
    with (
        open(logs / "milvus-stdout.log", "wb") as out,
        open(logs / "milvus-stderr.log", "wb") as err,
    ):
        proc = subprocess.Popen(
            [
                # setpriv: the kernel kills Milvus when the thread that started it dies, so a
                # test run or benchmark killed with -9 leaves no 1 GB server behind (the flag
                # survives unshare and sh exec-ing into Milvus)
                *("setpriv", "--pdeathsig", "KILL"),
                *("unshare", "--net", "sh", "-c"),
                'ip link set lo up && exec "$0" run standalone',
                exe,
            ],
            cwd=config.base_data_dir,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a Ctrl-C of the test run does not reach it first
        )
    try:
        _wait_healthy(proc, logs)
        server = LocalMilvus(proc, base_dir, int(config.get("proxy_port")))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    log.info(
        "local Milvus at %s (data %s) started in %.1fs",
        server.uri,
        base_dir,
        time.perf_counter() - started,
    )
    return server


def connect_inside(pid: int, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:port inside the network namespace of process `pid`.
    setns changes only the calling thread, so it runs in a short-lived thread; the socket
    keeps its namespace after the thread returns to the host's."""
    result: list[socket.socket | BaseException] = []

    def run() -> None:
        ns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            if _libc.setns(ns, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the Milvus network namespace")
            result.append(socket.create_connection((LOOPBACK, port), timeout=timeout))
        except BaseException as exc:
            result.append(exc)
        finally:
            os.close(ns)

    thread = threading.Thread(target=run, name="milvus-netns")
    thread.start()
    thread.join()
    got = result[0]
    if isinstance(got, BaseException):
        raise got
    got.settimeout(None)
    return got


def _wait_healthy(proc: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Milvus exited with status {proc.returncode}; see {logs}/milvus-stderr.log"
            )
        try:
            with connect_inside(proc.pid, HEALTH_PORT, timeout=1.0) as sock:
                sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
                if sock.recv(64).split(b" ")[1:2] == [b"200"]:
                    return
        except (OSError, IndexError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"Milvus did not become healthy within {START_TIMEOUT_S:.0f}s")


class Forwarder:
    """127.0.0.1:port on the host → 127.0.0.1:inner_port in the server's namespace; a pair
    of pump threads per connection (gRPC keeps one or two long-lived connections)."""

    def __init__(self, pid: int, inner_port: int) -> None:
        self._pid, self._inner = pid, inner_port
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="milvus-forwarder", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = connect_inside(self._pid, self._inner)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def main() -> None:
    """`python -m scenesearch.server.index.milvus_local DIR`: a local Milvus for trying
    `scenesearch serve --backend milvus --milvus-uri URI`; Ctrl-C stops it."""
    import argparse
    import signal as signals

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("data_dir", type=Path, help="where Milvus keeps its data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    server = start_local_milvus(args.data_dir)
    print(f"Milvus ready: --milvus-uri {server.uri}", flush=True)
    stop = threading.Event()
    for signum in (signals.SIGINT, signals.SIGTERM):
        signals.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(1.0) and server.proc.poll() is None:
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
