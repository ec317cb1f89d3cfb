"""Wiring: store, index, embedder, worker, gRPC server with health and reflection; shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scenesearch.server.api.auth import BearerTokenInterceptor
from scenesearch.server.api.limits import ConcurrencyLimiter
from scenesearch.server.api.service import SceneSearchService, ServiceDeps
from scenesearch.server.config import Settings
from scenesearch.server.embedder import DualEncoder, load_embedder
from scenesearch.server.errors import ModelMismatch
from scenesearch.server.index.backends import REGISTRY as BACKENDS
from scenesearch.server.index.base import single_threaded_queries
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.ingest.importer import VideoImporter
from scenesearch.server.ingest.jobs import JobRunner
from scenesearch.server.ingest.worker import IngestWorker
from scenesearch.server.metrics.base import NO_METRICS, Metrics
from scenesearch.server.metrics.endpoint import MetricsEndpoint, host_of, serve_metrics
from scenesearch.server.metrics.interceptor import RpcMetricsInterceptor
from scenesearch.server.metrics.prometheus import PrometheusMetrics
from scenesearch.server.playback.thumbnails import Thumbnails
from scenesearch.server.query.analytics import AnalyticsEngine
from scenesearch.server.query.concepts import ConceptBook
from scenesearch.server.query.search import SearchEngine
from scenesearch.server.query.temporal import TemporalEngine
from scenesearch.server.query.text_batcher import TextBatcher
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.layout import Layout
from scenesearch.server.reembed.manager import Reembedder
from scenesearch.server.reembed.retained import open_retained
from scenesearch.server.reembed.startup import active_generation
from scenesearch.server.replica.wiring import NoJobs, open_replica
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.concepts import ConceptTable
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.thumbnails import ThumbnailTable
from scenesearch.server.storage.video_files import VideoFiles
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SceneSearch"].full_name
# Exported models and --runtime auto's measurements, under the data dir.
RUNTIME_CACHE = "runtimes"


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    # The generation of the library that answers; a re-embed swaps it while running.
    active: ActiveGeneration[ServiceDeps]
    health: health.HealthServicer
    data_dir: Path
    # The Prometheus endpoint (--metrics-port), with the port it bound; None when off.
    metrics: MetricsEndpoint | None = None
    reembedder: Reembedder | None = None
    # Run after the gRPC server stopped (a replica's sync thread); why it stopped by itself.
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    failure: str | None = None
    stopped: threading.Event = field(default_factory=threading.Event)
    _saver_stop: threading.Event = field(default_factory=threading.Event)

    @property
    def index(self) -> LiveIndex:
        return self.active.deps.index

    @property
    def jobs(self) -> JobRunner:
        return self.active.deps.jobs

    def stop(self, grace_s: float = 5.0) -> None:
        if self.stopped.is_set():
            return
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()
        for hook in self.on_stop:
            hook()
        if self.metrics is not None:
            self.metrics.stop()
        self._saver_stop.set()
        if self.reembedder is not None:
            self.reembedder.shutdown()  # a move in progress resumes at the next start
        self.jobs.stop()
        self.index.save()
        self.stopped.set()
        log.info("scenesearch stopped")

    def wait(self) -> None:
        self.stopped.wait()

    def fail(self, reason: str, grace_s: float = 5.0) -> None:
        """Stop serving for good (serve() then exits non-zero with `reason`)."""
        self.failure = reason
        threading.Thread(target=self.stop, args=(grace_s,), name="stop").start()

    def save_periodically(self, every_s: float) -> None:
        def loop() -> None:
            while not self._saver_stop.wait(every_s):
                try:
                    self.index.save()
                except OSError:
                    log.exception("saving the index failed; it will be rebuilt if needed")

        threading.Thread(target=loop, name="index-saver", daemon=True).start()


def start_server(settings: Settings) -> RunningServer:
    """Load everything, then listen. Raises ModelLoadError / ModelMismatch with advice."""
    if settings.replica_of:
        return start_replica(settings)
    # The data dir's active generation decides the model (see reembed/startup.py).
    generation, model = active_generation(settings.data_dir, settings.model)
    settings = replace(settings, model=model)
    worker = new_worker(settings, model)
    worker.launch()  # loads its own model copy while this process loads the query model
    try:
        return _start(settings, worker, generation.name)
    except BaseException:
        worker.stop()
        raise


def new_worker(settings: Settings, model: str) -> IngestWorker:
    return IngestWorker(
        model,
        settings.device,
        settings.precision,
        runtime=settings.runtime,
        runtime_cache=settings.data_dir / RUNTIME_CACHE,
    )


def load_model(settings: Settings, model: str) -> DualEncoder:
    cache = settings.data_dir / RUNTIME_CACHE
    return load_embedder(model, settings.device, settings.precision, settings.runtime, cache)


def retire_generation(deps: ServiceDeps) -> None:
    """A generation a re-embed replaced: its ingest runner (and worker) stop; it stays on disk."""
    deps.jobs.stop()
    deps.index.save()


def build_generation(
    settings: Settings,
    generation: str,
    model: str,
    embedder: DualEncoder,
    worker: IngestWorker,
    metrics: Metrics,
) -> ServiceDeps:
    """Everything that serves one generation of the library: its db and index (in the
    generation's directory), its model, its ingest runner. Used at start-up and by the
    re-embed swap."""
    directory = Layout(settings.data_dir).by_name(generation).path
    in_generation = replace(settings, data_dir=directory)  # where its index file lives
    backend = BACKENDS[settings.backend]
    store = Store.open(directory, backend.vectors(settings))
    store.bind_model(model, embedder.dim)
    store.vectors.cache_reads(store.generation, directory)
    index = backend.index(store, in_generation, metrics)
    metrics.watch_index(index)
    index.open()

    def start_jobs(catalog: Catalog) -> JobRunner:
        jobs = JobRunner(
            store,
            catalog,
            worker,
            stall_timeout_s=settings.stall_timeout_s,
            max_queued=settings.max_queued_jobs,
            metrics=metrics,
        )
        metrics.watch_jobs(jobs.counts)
        jobs.start()
        return jobs

    return serving_deps(settings, store, index, model, embedder, generation, start_jobs, metrics)


def serving_deps(
    settings: Settings,
    store: Store,
    index: LiveIndex,
    model: str,
    embedder: DualEncoder,
    generation: str,
    start_jobs: Callable[[Catalog], JobRunner],
    metrics: Metrics,
    imports: bool = True,
) -> ServiceDeps:
    """The parts that answer RPCs over an open store and index (a primary's generation, or
    a replica's mirror)."""
    thumbnail_table = ThumbnailTable(store)
    catalog = Catalog(store, index, thumbnail_table)
    files = VideoFiles(settings.data_dir, settings.media_roots, settings.keep_uploads)
    jobs = start_jobs(catalog)
    texts = TextBatcher(embedder.embed_texts, metrics=metrics)
    concepts = ConceptBook(
        store, ConceptTable(store), embedder.embed_texts, embedder.embed_image_bytes
    )
    engine = SearchEngine(
        store,
        index,
        texts,
        embedder.embed_image_bytes,
        settings.max_top_k,
        calibrate=embedder.calibrate,
        concepts=concepts.vector,
    )
    engine.exact_limits.update(BACKENDS[settings.backend].exact_limits)
    return ServiceDeps(
        store=store,
        index=index,
        catalog=catalog,
        jobs=jobs,
        engine=engine,
        ingest_defaults=settings.ingest,
        media_roots=settings.media_roots,
        upload_dir=settings.data_dir / "uploads",
        max_upload_bytes=settings.max_upload_bytes,
        analytics=AnalyticsEngine(
            store, embedder.embed_texts, embedder.embed_image_bytes, concepts.vector
        ),
        model=model,
        device=embedder.describe(),
        files=files,
        thumbnails=Thumbnails(store, thumbnail_table, files),
        importer=VideoImporter(store, catalog, model) if imports else None,
        temporal=TemporalEngine(store, index, engine),
        concepts=concepts,
        generation=generation,
    )


def _start(settings: Settings, worker: IngestWorker, generation: str) -> RunningServer:
    embedder = load_model(settings, settings.model)
    metrics: Metrics = PrometheusMetrics() if settings.metrics_port is not None else NO_METRICS
    deps = build_generation(settings, generation, settings.model, embedder, worker, metrics)
    active = ActiveGeneration(deps)

    def build(name: str, model: str, new_embedder: DualEncoder, worker: IngestWorker) -> Any:
        return build_generation(settings, name, model, new_embedder, worker, metrics)

    reembedder = Reembedder(
        Layout(settings.data_dir),
        cast(Any, active),
        load_embedder=lambda model: load_model(settings, model),
        make_worker=lambda model: new_worker(settings, model),
        build=build,
        retire=cast(Any, retire_generation),
        stall_timeout_s=settings.stall_timeout_s,
        open_store=lambda directory: Store.open(
            directory, BACKENDS[settings.backend].vectors(settings)
        ),
        open_engine=lambda name, model: open_retained(
            settings, name, model, lambda m: load_model(settings, m)
        ),
    )
    try:
        server, port, health_servicer, endpoint = _listen(
            settings, SceneSearchService(active, reembedder), metrics
        )
    except BaseException:
        deps.jobs.stop()
        raise
    running = RunningServer(
        server,
        port,
        active,
        health_servicer,
        settings.data_dir,
        metrics=endpoint,
        reembedder=reembedder,
    )
    running.save_periodically(5.0)
    reembedder.resume()  # a move that a stop or a crash interrupted goes on
    _log_listening(settings, port, embedder, deps)
    return running


def start_replica(settings: Settings) -> RunningServer:
    """`--replica-of`: a read-only search server over the primary's Milvus (server/replica/)."""
    metrics: Metrics = PrometheusMetrics() if settings.metrics_port is not None else NO_METRICS
    replica = open_replica(settings, metrics)  # checks the primary before the model loads
    try:
        embedder = load_model(settings, settings.model)
        replica.store.bind_model(settings.model, embedder.dim)
        metrics.watch_index(replica.index)
        replica.mirror.sync()  # the whole library before the first request
        deps = replica.serving(serving_deps(
            settings, replica.store, replica.index, settings.model, embedder, "0",
            lambda catalog: cast(JobRunner, NoJobs()), metrics, imports=False,
        ))  # fmt: skip
        active = ActiveGeneration(deps)
        server, port, health_servicer, endpoint = _listen(
            settings, SceneSearchService(active), metrics, replica.interceptor
        )
    except BaseException:
        replica.close()
        raise
    running = RunningServer(server, port, active, health_servicer, settings.data_dir, endpoint)
    running.on_stop.append(replica.close)
    replica.start_sync(settings.replica_sync_s, running.fail)
    _log_listening(settings, port, embedder, deps)
    return running


def _listen(
    settings: Settings,
    servicer: SceneSearchService,
    metrics: Metrics,
    guard: grpc.ServerInterceptor | None = None,
) -> tuple[grpc.Server, int, health.HealthServicer, MetricsEndpoint | None]:
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    interceptors: list[grpc.ServerInterceptor] = []
    if isinstance(metrics, PrometheusMetrics):  # first, so it counts what the others refuse
        interceptors.append(RpcMetricsInterceptor(metrics))
    if settings.auth_token:
        interceptors.append(BearerTokenInterceptor(settings.auth_token))
    if guard is not None:
        interceptors.append(guard)
    interceptors.append(ConcurrencyLimiter(settings.max_concurrent_rpcs))
    server = grpc.server(
        futures.ThreadPoolExecutor(settings.max_workers, initializer=single_threaded_queries),
        options=options,
        interceptors=interceptors,
    )
    pb_grpc.add_SceneSearchServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    if settings.tls_cert is not None and settings.tls_key is not None:
        credentials = grpc.ssl_server_credentials(
            [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
        )
        port = server.add_secure_port(settings.address, credentials)
    else:
        port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"could not listen on {settings.address}")
    endpoint = None
    if isinstance(metrics, PrometheusMetrics) and settings.metrics_port is not None:
        endpoint = serve_metrics(metrics.registry, host_of(settings.address), settings.metrics_port)
    server.start()
    for name in (SERVICE_NAME, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port, health_servicer, endpoint


def _log_listening(settings: Settings, port: int, embedder: DualEncoder, deps: ServiceDeps) -> None:
    host = settings.address.rsplit(":", 1)[0]
    log.info(
        "scenesearch listening on %s:%d (model %s on %s, %s index, %d vectors)",
        host,
        port,
        settings.model,
        embedder.device,
        deps.index.kind,
        deps.index.count(),
    )


def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; in-flight RPCs get the grace period to finish."""
    running = start_server(settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=running.stop, args=(settings.shutdown_grace_s,)).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if running.metrics is not None:
        print(f"scenesearch metrics on port {running.metrics.port} (/metrics)", flush=True)
    print(f"scenesearch listening on port {running.port}", flush=True)
    running.wait()
    if running.failure is not None:  # exits non-zero, for a supervisor to act on
        raise ModelMismatch(running.failure)
