"""What a run is told (RayIngestConfig), what it decides from the cluster (Plan), and what it
reports (RunProgress, VideoOutcome, RunSummary). Plain values: no Ray, no server."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scenesearch.client.ray_ingest.runtime import ClusterShape
from scenesearch.contract import DEFAULT_DETECTOR, DEFAULT_SAMPLE_INTERVAL_S

# The finish task (scene maths, thumbnails) is light: a quarter of a CPU.
FINISH_CPUS = 0.25


class ModelMismatchError(Exception):
    """The run's model is not the server's: nothing was decoded."""


@dataclass(frozen=True, slots=True)
class RayIngestConfig:
    """How a distributed ingest runs. Zero means "choose from the cluster's resources"."""

    ray_address: str = "auto"  # "auto": RAY_ADDRESS if set, else a local runtime
    local_cpus: int = 0  # CPUs of a local runtime (0: all of this machine's)
    # Decode stage: one task per video, at most `decoders` at once.
    decoders: int = 0
    decode_cpus: float = 1.0
    chunk_frames: int = 8  # sampled frames per object sent from a decode task
    chunks_ahead: int = 4  # chunks a decode task may run ahead of the driver (Ray backpressure)
    # Embed stage: actors, each with one model copy, batching frames across videos.
    embed_actors: int = 0  # 0: one per GPU, or one CPU actor without GPUs
    embed_cpus: float = 0.0  # 0: 1 with a GPU, else a quarter of the CPUs (at least 0.5)
    embed_threads: int = 0  # torch threads of a CPU actor (0: its CPUs, at least 1)
    embed_batch: int = 0  # frames per forward pass (0: 64 on a GPU, 16 on a CPU)
    chunks_per_actor: int = 0  # chunks queued at each actor, at most (0: two batches' worth)
    device: str = "auto"  # "auto": cuda when the cluster has GPUs, else cpu
    precision: str = "auto"
    # The server's --runtime: torch (also the GPU's), onnx or openvino. Use the server's for
    # vectors equal to a local ingest; "auto" would re-measure in every actor.
    runtime: str = "torch"
    model: str = ""  # "": the server's model (its id must load on every node)
    # Backpressure: videos between launch and commit, at most (0: twice the decoders).
    max_videos: int = 0
    # Ingest options, as for IngestVideo (0 / "": scenesearch's defaults).
    sample_interval_s: float = 0.0
    detector: str = ""
    threshold: float = 0.0
    # Faults.
    task_retries: int = 3  # a decode or finish task whose worker dies is run again
    actor_restarts: int = 3
    stall_timeout_s: float = 300.0  # a decode task with no new frames for this long fails
    import_retry_s: float = 120.0  # retrying an import (server restarting) gives up after this
    import_timeout_s: float = 300.0
    model_load_timeout_s: float = 900.0

    @property
    def ingest(self) -> tuple[float, str, float]:
        return (
            self.sample_interval_s or DEFAULT_SAMPLE_INTERVAL_S,
            self.detector or DEFAULT_DETECTOR,
            self.threshold,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    decoders: int
    max_videos: int
    actors: int
    actor_cpus: float
    actor_gpus: float
    device: str
    threads: int
    batch: int
    queue_chunks: int  # per actor: enough for the batcher to fill the next batch meanwhile


def plan_for(shape: ClusterShape, config: RayIngestConfig) -> Plan:
    """Size the pools from the cluster: one GPU per embed actor when GPUs exist (num_gpus=1 on
    a cluster without one would wait forever), the CPUs left over for decoding."""
    use_gpu = shape.gpus > 0 and config.device in ("auto", "cuda")
    actors = config.embed_actors or (shape.gpus if use_gpu else 1)
    if use_gpu:
        actors = min(actors, shape.gpus)
    actor_cpus = config.embed_cpus or (1.0 if use_gpu else max(0.5, float(int(shape.cpus // 4))))
    if actors * actor_cpus + FINISH_CPUS > shape.cpus:
        raise ValueError(
            f"{actors} embed actor(s) of {actor_cpus:g} CPU leave no room on a cluster of "
            f"{shape.cpus:g} CPUs; lower --embed-cpus or --embed-actors"
        )
    spare = shape.cpus - actors * actor_cpus - FINISH_CPUS
    decoders = config.decoders or max(1, int(spare // config.decode_cpus))
    device = "cuda" if use_gpu else ("cpu" if config.device == "auto" else config.device)
    batch = config.embed_batch or (64 if use_gpu else 16)
    return Plan(
        decoders=decoders,
        max_videos=config.max_videos or 2 * decoders,
        actors=actors,
        actor_cpus=actor_cpus,
        actor_gpus=1.0 if use_gpu else 0.0,
        device=device,
        threads=0 if use_gpu else (config.embed_threads or max(1, round(actor_cpus))),
        batch=batch,
        queue_chunks=config.chunks_per_actor or max(2, -(-2 * batch // config.chunk_frames)),
    )


@dataclass(frozen=True, slots=True)
class VideoOutcome:
    path: str
    video_id: int = 0
    already_ingested: bool = False
    error: str = ""
    frames: int = 0  # decoded
    samples: int = 0  # embedded
    scenes: int = 0
    seconds: float = 0.0  # launch to commit
    import_attempts: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class RunProgress:
    total: int
    done: int
    failed: int
    frames: int  # decoded frames of the videos finished so far
    in_flight: int
    elapsed_s: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        finished = self.done + self.failed
        if not finished or finished >= self.total:
            return None
        return self.elapsed_s / finished * (self.total - finished)


@dataclass(frozen=True, slots=True)
class RunSummary:
    videos: tuple[VideoOutcome, ...]
    elapsed_s: float
    plan: Plan
    cluster: ClusterShape
    model: str
    embed: tuple[dict[str, float], ...] = ()
    # Backpressure as it happened: the most videos in flight, and chunks queued at actors.
    peak_videos: int = 0
    peak_queued_chunks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # startup_s: Ray + model load

    @property
    def done(self) -> int:
        return sum(1 for v in self.videos if v.ok)

    @property
    def failed(self) -> tuple[VideoOutcome, ...]:
        return tuple(v for v in self.videos if not v.ok)

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    @property
    def videos_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "videos": [asdict(v) for v in self.videos],
            "done": self.done,
            "failed": len(self.failed),
            "frames": self.frames,
            "elapsed_s": round(self.elapsed_s, 3),
            "videos_per_s": round(self.videos_per_s, 4),
            "frames_per_s": round(self.frames / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "model": self.model,
            "plan": asdict(self.plan),
            "cluster": asdict(self.cluster),
            "embed_actors": list(self.embed),
            "peak_videos_in_flight": self.peak_videos,
            "peak_chunks_queued": self.peak_queued_chunks,
            **self.extra,
        }
