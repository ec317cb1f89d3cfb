"""The driver of a distributed ingest: Ray schedules, this loop only bounds and routes.

Per video: a decode task (CPU, one sequential pass) streams chunks of sampled frames; the
driver hands each chunk's ObjectRef to the least-loaded embed actor (it never fetches the
pixels); a small finish task joins the tail and the vectors into a VideoPayload; the driver
sends that to the server with ImportVideo, retrying with backoff while the server restarts.

Backpressure, so 10,000 files never fill the object store:
- at most `max_videos` videos between launch and commit, and `decoders` decoding at once;
- a decode task runs at most `chunks_ahead` chunks ahead of the driver (Ray's generator
  backpressure), and the driver stops taking chunks while every actor has `queue_chunks`
  queued (two batches' worth), so frames in flight <= (videos * chunks_ahead + actors *
  queue_chunks) * chunk_frames.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import grpc
import ray

from scenesearch.client.ray_ingest.embed_actor import EmbedActor
from scenesearch.client.ray_ingest.plan import (
    FINISH_CPUS,
    ModelMismatchError,
    Plan,
    RayIngestConfig,
    RunProgress,
    RunSummary,
    VideoOutcome,
    plan_for,
)
from scenesearch.client.ray_ingest.runtime import ray_runtime
from scenesearch.client.ray_ingest.tasks import IngestSpec, VideoFailed, decode_video, finish_video
from scenesearch.client.ray_ingest.wire import VideoPayload, import_messages
from scenesearch.client.remote import ClientError, ImportedVideo, SceneSearchClient

log = logging.getLogger(__name__)

POLL_S = 0.05
PROGRESS_EVERY_S = 0.25
# Worth another try: the server is restarting, overloaded or busy with the same content.
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
}

ProgressFn = Callable[[RunProgress], None]


def import_with_retry(
    client: SceneSearchClient,
    payload: VideoPayload,
    budget_s: float,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[ImportedVideo, int]:
    """Import, retrying retryable failures with exponential backoff for up to `budget_s`;
    returns the result and the number of attempts."""
    messages = import_messages(payload)
    deadline, delay, attempts = time.monotonic() + budget_s, 0.5, 0
    while True:
        attempts += 1
        try:
            return client.import_video(messages, timeout_s), attempts
        except ClientError as exc:
            if exc.code not in RETRYABLE or time.monotonic() + delay > deadline:
                raise ImportFailed(f"{exc.code.name}: {exc.message}", attempts) from None
            log.info("import of %s failed (%s); retrying in %.1fs", payload.path, exc, delay)
            sleep(delay)
            delay = min(delay * 2, 8.0)


class ImportFailed(Exception):
    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


def reason_of(exc: BaseException) -> str:
    """One line a person can act on, from whatever Ray raised."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, VideoFailed):
        return str(cause)
    if isinstance(exc, ray.exceptions.WorkerCrashedError):
        return "the decode worker died on every try (the file may crash the decoder)"
    if isinstance(exc, ray.exceptions.TaskCancelledError):
        return "cancelled"
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Video:
    __slots__ = ("embedded", "gen", "held", "last_chunk", "path", "position", "started")

    def __init__(self, position: int, path: str, gen: Any) -> None:
        self.position, self.path, self.gen = position, path, gen
        self.held: Any = None  # the latest ref; the last one of a stream is the tail
        self.embedded: list[Any] = []
        self.started = self.last_chunk = time.monotonic()


class _Run:
    def __init__(
        self,
        paths: Sequence[str],
        client: SceneSearchClient,
        config: RayIngestConfig,
        plan: Plan,
        model: str,
        actors: list[Any],
        on_progress: ProgressFn | None,
    ) -> None:
        self.paths, self.client, self.config, self.plan = paths, client, config, plan
        self.model, self.actors, self.on_progress = model, actors, on_progress
        self.spec = IngestSpec(*config.ingest)
        self.decode = ray.remote(decode_video).options(
            num_cpus=config.decode_cpus,
            max_retries=config.task_retries,
            num_returns="streaming",
            _generator_backpressure_num_objects=config.chunks_ahead,
        )
        self.finish = ray.remote(finish_video).options(
            num_cpus=FINISH_CPUS, max_retries=config.task_retries
        )
        self.queue = deque(enumerate(paths))
        self.outcomes: list[VideoOutcome | None] = [None] * len(paths)
        self.decoding: list[_Video] = []
        self.finishing: dict[Any, _Video] = {}
        self.importing: dict[Future[tuple[ImportedVideo, int]], tuple[_Video, VideoPayload]] = {}
        self.embed_pending: dict[Any, int] = {}
        self.queued = [0] * len(actors)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="import")
        self.started = time.monotonic()
        self.frames = 0
        self.peak_videos = self.peak_chunks = 0
        self._last_report = 0.0

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while self.queue or self.decoding or self.finishing or self.importing:
                self._launch()
                self._step()
                self._report()
        finally:
            self.pool.shutdown(wait=True)
        self._report(force=True)

    def _in_flight(self) -> int:
        return len(self.decoding) + len(self.finishing) + len(self.importing)

    def _room(self) -> bool:
        return min(self.queued) < self.plan.queue_chunks

    def _launch(self) -> None:
        while (
            self.queue
            and len(self.decoding) < self.plan.decoders
            and self._in_flight() < self.plan.max_videos
        ):
            position, path = self.queue.popleft()
            gen = self.decode.remote(path, self.spec, self.config.chunk_frames)
            self.decoding.append(_Video(position, path, gen))
        self.peak_videos = max(self.peak_videos, self._in_flight())

    def _step(self) -> None:
        waitables = [v.gen for v in self.decoding] if self._room() else []
        waitables += [*self.finishing, *self.embed_pending]
        ready: list[Any] = []
        if waitables:
            ready, _ = ray.wait(
                waitables, num_returns=len(waitables), timeout=POLL_S, fetch_local=False
            )
        elif self.importing:
            time.sleep(POLL_S)
        refs = [r for r in ready if isinstance(r, ray.ObjectRef)]
        generators = {id(r) for r in ready if not isinstance(r, ray.ObjectRef)}
        for ref in refs:
            if ref in self.embed_pending:
                self.queued[self.embed_pending.pop(ref)] -= 1
            elif ref in self.finishing:
                self._finished(ref, self.finishing.pop(ref))
        for video in [v for v in self.decoding if id(v.gen) in generators]:
            self._take_chunks(video)
        for future in [f for f in self.importing if f.done()]:
            self._imported(future, *self.importing.pop(future))
        self._check_stalls()

    def _take_chunks(self, video: _Video) -> None:
        while True:
            try:
                ref = next(video.gen)
            except StopIteration:
                self.decoding.remove(video)
                tail, video.held = video.held, None
                ref = self.finish.remote(video.path, self.model, tail, *video.embedded)
                self.finishing[ref] = video
                return
            video.last_chunk = time.monotonic()
            if video.held is not None:
                self._dispatch(video, video.held)
            video.held = ref
            if not self._room() or not ray.wait([video.gen], timeout=0, fetch_local=False)[0]:
                return

    def _dispatch(self, video: _Video, chunk: Any) -> None:
        actor = min(range(len(self.actors)), key=self.queued.__getitem__)
        ref = self.actors[actor].embed.remote(chunk)
        self.queued[actor] += 1
        self.peak_chunks = max(self.peak_chunks, sum(self.queued))
        self.embed_pending[ref] = actor
        video.embedded.append(ref)

    def _finished(self, ref: Any, video: _Video) -> None:
        try:
            payload: VideoPayload = ray.get(ref)
        except Exception as exc:
            self._fail(video, reason_of(exc))
            return
        future = self.pool.submit(
            import_with_retry,
            self.client,
            payload,
            self.config.import_retry_s,
            self.config.import_timeout_s,
        )
        self.importing[future] = (video, payload)

    def _imported(
        self, future: Future[tuple[ImportedVideo, int]], video: _Video, payload: VideoPayload
    ) -> None:
        try:
            done, attempts = future.result()
        except ImportFailed as exc:
            self._fail(video, f"import failed: {exc}", attempts=exc.attempts)
            return
        except Exception as exc:
            self._fail(video, f"import failed: {type(exc).__name__}: {exc}")
            return
        self.frames += payload.frame_count
        self.outcomes[video.position] = VideoOutcome(
            path=video.path,
            video_id=done.video_id,
            already_ingested=done.already_ingested,
            frames=payload.frame_count,
            samples=len(payload.frames),
            scenes=len(payload.scenes),
            seconds=time.monotonic() - video.started,
            import_attempts=attempts,
            warnings=payload.warnings,
        )

    def _fail(self, video: _Video, reason: str, attempts: int = 0) -> None:
        log.info("%s failed: %s", video.path, reason)
        self.outcomes[video.position] = VideoOutcome(
            path=video.path,
            error=reason,
            seconds=time.monotonic() - video.started,
            import_attempts=attempts,
        )

    def _check_stalls(self) -> None:
        now = time.monotonic()
        for video in list(self.decoding):
            if not self._room():  # paused by us, not stalled
                video.last_chunk = now
                continue
            if now - video.last_chunk > self.config.stall_timeout_s:
                ray.cancel(video.gen, force=True)
                self.decoding.remove(video)
                self._fail(
                    video,
                    f"decoding made no progress for {self.config.stall_timeout_s:.0f}s and was "
                    "stopped; the file is probably malformed",
                )

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is None or (not force and now - self._last_report < PROGRESS_EVERY_S):
            return
        self._last_report = now
        finished = [o for o in self.outcomes if o is not None]
        self.on_progress(
            RunProgress(
                total=len(self.paths),
                done=sum(1 for o in finished if o.ok),
                failed=sum(1 for o in finished if not o.ok),
                frames=self.frames,
                in_flight=self._in_flight(),
                elapsed_s=now - self.started,
            )
        )


def start_actors(plan: Plan, config: RayIngestConfig, model: str) -> list[Any]:
    actor_class = ray.remote(EmbedActor).options(
        num_cpus=plan.actor_cpus,
        num_gpus=plan.actor_gpus,
        max_concurrency=plan.queue_chunks + 1,
        max_restarts=config.actor_restarts,
        max_task_retries=config.task_retries,
    )
    return [
        actor_class.remote(
            model, plan.device, config.precision, config.runtime, plan.batch, plan.threads
        )
        for _ in range(plan.actors)
    ]


def ingest_on_ray(
    paths: Sequence[str],
    client: SceneSearchClient,
    config: RayIngestConfig | None = None,
    on_progress: ProgressFn | None = None,
) -> RunSummary:
    """Ingest `paths` (as every Ray node sees them) into the server behind `client`.

    Raises ModelMismatchError before any work when the model differs from the server's,
    RayUnavailable when Ray is missing or unreachable; per-video failures are in the summary.
    """
    config = config or RayIngestConfig()
    stats = client.stats()
    model = config.model or stats.model
    if model != stats.model:
        raise ModelMismatchError(
            f"the server uses model {stats.model!r}; vectors of {model!r} cannot be imported "
            "into it. Leave --model out to use the server's."
        )
    started = time.monotonic()
    with ray_runtime(config.ray_address, config.local_cpus or None) as shape:
        plan = plan_for(shape, config)
        actors = start_actors(plan, config, model)
        try:
            described = ray.get(
                [a.describe.remote() for a in actors], timeout=config.model_load_timeout_s
            )
            startup_s = time.monotonic() - started
            dims = {int(d["dim"]) for d in described}
            if dims != {stats.dimension}:
                raise ModelMismatchError(
                    f"the embed actors' model gives dimension {sorted(dims)}, the server's "
                    f"{stats.dimension}"
                )
            run = _Run(paths, client, config, plan, model, actors, on_progress)
            run.run()
            embed = tuple(ray.get([a.stats.remote() for a in actors], timeout=60))
        finally:
            for actor in actors:
                ray.kill(actor)
    outcomes = tuple(
        o or VideoOutcome(path=p, error="not run") for o, p in zip(run.outcomes, paths, strict=True)
    )
    return RunSummary(
        videos=outcomes,
        elapsed_s=time.monotonic() - started,
        plan=plan,
        cluster=shape,
        model=model,
        embed=tuple(
            {**e, "device": d["device"], "dtype": d["dtype"]}
            for e, d in zip(embed, described, strict=True)
        ),
        peak_videos=run.peak_videos,
        peak_queued_chunks=run.peak_chunks,
        extra={"startup_s": startup_s},
    )
