"""Reaching Ray: import it (or say how to install it), start or join a runtime, read its shape.

A local runtime (`--ray auto` with no RAY_ADDRESS) listens on 127.0.0.1 only and uses token
authentication with a token made for this process and handed to Ray's processes through the
environment, so nothing is written to ~/.ray; Ray's dashboard is not started.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'scenesearch[ray]'"
LOOPBACK = "127.0.0.1"


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached; the message says what to do."""


def require_ray() -> ModuleType:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            f"distributed ingest needs Ray, which is not installed here ({exc.name or exc} is "
            f"missing). Install it with: {INSTALL_HINT}"
        ) from None
    return ray


@dataclass(frozen=True, slots=True)
class ClusterShape:
    cpus: float
    gpus: int
    nodes: int
    address: str
    local: bool  # started by this run (and stopped at its end)


def _shape(ray: ModuleType, local: bool) -> ClusterShape:
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    address = ray.get_runtime_context().gcs_address
    return ClusterShape(
        cpus=float(resources.get("CPU", 0.0)),
        gpus=int(resources.get("GPU", 0)),
        nodes=len(nodes),
        address=str(address),
        local=local,
    )


@contextmanager
def ray_runtime(address: str = "auto", num_cpus: int | None = None) -> Iterator[ClusterShape]:
    """Use a runtime for the block: the one this process already has, the cluster at
    `address` (or RAY_ADDRESS), or with "auto" and no RAY_ADDRESS a local one."""
    ray = require_ray()
    if ray.is_initialized():  # the caller (a notebook, a test, a benchmark) owns it
        yield _shape(ray, local=False)
        return
    target = address if address not in ("", "auto") else os.environ.get("RAY_ADDRESS", "")
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if target:
        try:
            ray.init(address=target, **quiet)
        except (ConnectionError, RuntimeError) as exc:
            raise RayUnavailable(
                f"cannot reach the Ray cluster at {target}: {exc}. Check the address "
                "(`ray status` on the head node prints it), or use --ray auto for a local runtime"
            ) from None
        try:
            yield _shape(ray, local=False)
        finally:
            ray.shutdown()
        return
    with local_runtime(num_cpus) as shape:
        yield shape


STARTUP_ATTEMPTS = 3


@contextmanager
def local_runtime(num_cpus: int | None = None) -> Iterator[ClusterShape]:
    """A Ray runtime on this machine for the block: loopback only, no dashboard, token auth."""
    ray = require_ray()
    _use_process_token()
    # Ray says once that it turned token auth on; here that is the intended default.
    logging.getLogger(_AUTH_SETUP_LOGGER).setLevel(logging.ERROR)
    with _loopback_only():
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            try:
                ray.init(
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    _node_ip_address=LOOPBACK,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
                break
            except Exception as exc:  # Ray raises a bare Exception for this one
                # The raylet has a fixed 30 s to register; a busy 2-core machine can miss it.
                if "timed out during startup" not in str(exc) or attempt == STARTUP_ATTEMPTS:
                    raise
                log.warning("the local Ray runtime did not start in time; trying again")
                ray.shutdown()
    try:
        yield _shape(ray, local=True)
    finally:
        ray.shutdown()


@contextmanager
def _loopback_only() -> Iterator[None]:
    """Keep every listener of a new local runtime on 127.0.0.1.

    On Linux Ray turns a node address of 127.0.0.1 into the machine's external address and
    then listens on all interfaces, unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (its switch
    for single-machine runtimes). Ray's own processes read the variable at start; this
    process read it when it imported Ray, so its copy of the flag is switched as well. Both
    are restored afterwards: a driver that later joins a real cluster must advertise a
    reachable address. tests/test_ray_ingest.py checks the listeners with `ss`.
    """
    from ray._private import ray_constants

    saved_env = os.environ.get(CLUSTER_SWITCH)
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[CLUSTER_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(CLUSTER_SWITCH, None)
        else:
            os.environ[CLUSTER_SWITCH] = saved_env


CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_AUTH_SETUP_LOGGER = "ray._private.authentication.authentication_token_setup"
_AUTH_SOURCES = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def _use_process_token() -> None:
    """Unless the user chose (RAY_AUTH_MODE, a token of theirs), give local runtimes a token
    made for this process and passed to Ray's processes in the environment: Ray then turns
    token auth on without writing ~/.ray/auth_token. One token per process, because Ray
    caches the token it first read."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return
    if not any(os.environ.get(key) for key in _AUTH_SOURCES):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
