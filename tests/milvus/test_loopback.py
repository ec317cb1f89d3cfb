"""Network rule: nothing the test run starts listens beyond loopback, Milvus included."""

from __future__ import annotations

import os
import re
import subprocess

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.index.milvus_local import LocalMilvus

# 127.0.0.1, as itself or IPv4-mapped on a dual-stack socket, and ::1.
LOOPBACK = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")


def listeners() -> list[tuple[str, int]]:
    """(local address, pid) of every TCP listener of this network namespace (`ss -ltnp`)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        for pid in re.findall(r"pid=(\d+)", line):
            found.append((fields[3], int(pid)))
    return found


def descendants(root: int) -> set[int]:
    """`root` and every process below it (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    return found


def test_no_listener_of_the_run_is_bound_beyond_loopback(
    client: SceneSearchClient, local_milvus: LocalMilvus
) -> None:
    client.stats()  # the Milvus-backed gRPC server and its worker are up
    ours = descendants(os.getpid()) | descendants(local_milvus.pid)
    mine = [(addr, pid) for addr, pid in listeners() if pid in ours]
    assert mine, "expected the test run's own listeners (gRPC server, Milvus forwarder)"
    wide = [(addr, pid) for addr, pid in mine if not addr.startswith(LOOPBACK)]
    assert wide == [], f"listeners beyond loopback: {wide}"
    # Milvus itself listens on every interface of a namespace whose only interface is lo.
    ns = f"--net=/proc/{local_milvus.pid}/ns/net"
    links = subprocess.run(
        ["nsenter", ns, "ip", "-o", "link"], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
