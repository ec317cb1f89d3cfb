"""The HTTP endpoint Prometheus scrapes (any path; /metrics by convention), on its own thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def host_of(address: str) -> str:
    """The host part of a gRPC listen address ("[::]:50051" → "::"): the endpoint binds the
    same interface as the server, so loopback stays loopback."""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return host.strip("[]") or "0.0.0.0"


@dataclass
class MetricsEndpoint:
    host: str
    port: int
    _httpd: WSGIServer

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> MetricsEndpoint:
    """Listen on host:port (0 picks a free port); raises OSError with advice when it cannot."""
    try:
        httpd, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(
            f"could not serve metrics on {host}:{port} ({exc.strerror or exc}); "
            "pick another --metrics-port, or 0 for a free one"
        ) from exc
    bound = int(httpd.server_address[1])
    log.info("metrics on http://%s:%d/metrics", host if ":" not in host else f"[{host}]", bound)
    return MetricsEndpoint(host, bound, httpd)
