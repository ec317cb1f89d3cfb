"""The metrics of one server, in its own CollectorRegistry (several servers in one process, as in
the tests, never collide). Names follow go-grpc-prometheus for RPCs, `scenesearch_` otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scenesearch.server.metrics.base import Metrics, P, R, SizedIndex

# Searches take milliseconds; progress streams and uploads can run for minutes.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# From a FAISS flat search over a few vectors (~50 µs) to a commit or rebuild (seconds).
BACKEND_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    10,
    60,
)
TEXT_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _ScrapeTimeGauges(Collector):
    """Index size and job queue, read when Prometheus scrapes: nothing to update on hot paths."""

    def __init__(self) -> None:
        self.index: SizedIndex | None = None
        self.job_counts: Callable[[], tuple[int, int]] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.index is not None:
            vectors = GaugeMetricFamily(
                "scenesearch_index_vectors",
                "Vectors in the search index, labelled by index kind",
                labels=["kind"],
            )
            vectors.add_metric([self.index.kind], self.index.count())
            yield vectors
        if self.job_counts is not None:
            queued, running = self.job_counts()
            yield GaugeMetricFamily(
                "scenesearch_ingest_queue_depth", "Ingest jobs waiting for the worker", queued
            )
            yield GaugeMetricFamily(
                "scenesearch_ingest_running", "Ingest jobs being decoded or committed", running
            )


class _Timing:
    """Observes the time between enter and exit (a class: a generator per call costs more)."""

    __slots__ = ("_child", "_started")

    def __init__(self, child: Histogram) -> None:
        self._child = child
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._child.observe(time.perf_counter() - self._started)


class PrometheusMetrics(Metrics):
    enabled = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        rpc_labels = ("grpc_service", "grpc_method", "grpc_type")
        self.rpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time to handle an RPC, to its last response message",
            rpc_labels,
            registry=reg,
            buckets=RPC_BUCKETS,
        )
        self.rpc_handled = Counter(
            "grpc_server_handled",
            "RPCs completed, by status code",
            (*rpc_labels, "grpc_code"),
            registry=reg,
        )
        self.backend_seconds = Histogram(
            "scenesearch_backend_seconds",
            "Time of one call to a storage, vector or model backend",
            ("backend", "operation"),
            registry=reg,
            buckets=BACKEND_BUCKETS,
        )
        self.text_batch_size = Histogram(
            "scenesearch_text_batch_size",
            "Queries per forward pass of the text encoder",
            registry=reg,
            buckets=TEXT_BATCH_BUCKETS,
        )
        self.ingest_frames = Counter(
            "scenesearch_ingest_frames",
            "Frames of ingested videos: decoded (every frame) and embedded (sampled)",
            ("stage",),
            registry=reg,
        )
        self.ingest_busy = Counter(
            "scenesearch_ingest_busy_seconds",
            "Seconds spent decoding and embedding; rate(frames) / rate(this) is the busy rate",
            registry=reg,
        )
        self.last_job_fps = Gauge(
            "scenesearch_ingest_last_job_frames_per_second",
            "Decoded frames per second of the last ingested video",
            registry=reg,
        )
        self.jobs = Counter(
            "scenesearch_ingest_jobs",
            "Ingest jobs ended, by outcome (ingested, duplicate, failed)",
            ("outcome",),
            registry=reg,
        )
        # labels() takes a lock and builds a key on every call; the few children are kept here.
        self._backend_children: dict[tuple[str, str], Histogram] = {}
        self._rpc_children: dict[tuple[str, str, str, str], tuple[Histogram, Counter]] = {}
        self._gauges = _ScrapeTimeGauges()
        reg.register(self._gauges)

    def backend(self, backend: str, operation: str) -> contextlib.AbstractContextManager[None]:
        child = self._backend_children.get((backend, operation))
        if child is None:
            child = self._backend_children.setdefault(
                (backend, operation), self.backend_seconds.labels(backend, operation)
            )
        return _Timing(child)

    def timed(self, fn: Callable[P, R], backend: str, operation: str) -> Callable[P, R]:
        child = self.backend_seconds.labels(backend, operation)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                child.observe(time.perf_counter() - started)

        return call

    def rpc(self, service: str, method: str, rpc_type: str, code: str, seconds: float) -> None:
        key = (service, method, rpc_type, code)
        children = self._rpc_children.get(key)
        if children is None:
            latency = self.rpc_seconds.labels(service, method, rpc_type)
            children = self._rpc_children.setdefault(key, (latency, self.rpc_handled.labels(*key)))
        children[0].observe(seconds)
        children[1].inc()

    def text_batch(self, size: int) -> None:
        self.text_batch_size.observe(size)

    def ingested(self, decoded_frames: int, embedded_frames: int, seconds: float) -> None:
        self.ingest_frames.labels("decoded").inc(decoded_frames)
        self.ingest_frames.labels("embedded").inc(embedded_frames)
        self.ingest_busy.inc(seconds)
        if seconds > 0:
            self.last_job_fps.set(decoded_frames / seconds)

    def job_ended(self, outcome: str) -> None:
        self.jobs.labels(outcome).inc()

    def watch_index(self, index: SizedIndex) -> None:
        self._gauges.index = index

    def watch_jobs(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._gauges.job_counts = counts
