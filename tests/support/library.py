"""A synthetic library written straight into a data dir (SQLite only; the server indexes it).

Scene vectors are clustered unit vectors varying in a low-dimensional subspace (CLIP-like, as
in bench/index.py); each scene has `frames` sampled frames close to it, and its stored vector
is the L2-normalised mean of those frames, as an ingest stores it. Used by the search tests
and `bench/search.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise


@dataclass(frozen=True, slots=True)
class Library:
    scene_ids: np.ndarray  # (n,) in insertion order
    video_of: np.ndarray  # (n,) video id of each scene
    vectors: Vectors  # (n, dim) stored scene vectors


def clip_like(
    rng: np.random.Generator, centres: Vectors, basis: Vectors, anchors: Vectors, scale: float
) -> Vectors:
    """Unit vectors near `anchors` (rows of `centres` or given points), varying along the
    low-dimensional subspace `basis`, as CLIP embeddings do; isotropic 512-d noise would make
    every neighbour a near-tie (see bench/index.py)."""
    z = rng.normal(scale=scale, size=(len(anchors), len(basis))).astype(np.float32)
    noise = rng.normal(scale=0.01, size=anchors.shape).astype(np.float32)
    return normalise(anchors + z @ basis + noise)


def build_library(
    data_dir: Path,
    videos: int,
    scenes_per_video: int,
    frames_per_scene: int = 2,
    dim: int = 512,
    model_id: str = "synthetic",
    seed: int = 0,
    batch_videos: int = 200,
) -> Library:
    """Write `videos` ready videos; returns what was written (for exact reference answers)."""
    store = Store.open(data_dir)
    store.bind_model(model_id, dim)
    rng = np.random.default_rng(seed)
    total = videos * scenes_per_video
    means = normalise(rng.normal(size=(max(total // 250, 20), dim)).astype(np.float32))
    basis = normalise(rng.normal(size=(min(32, dim // 2), dim)).astype(np.float32))
    all_ids, all_videos, all_vectors = [], [], []
    next_scene, next_frame = 1, 1
    for first in range(0, videos, batch_videos):
        count = min(batch_videos, videos - first)
        n = count * scenes_per_video
        centres = clip_like(rng, means, basis, means[rng.integers(0, len(means), n)], 0.15)
        around = np.repeat(centres, frames_per_scene, axis=0)
        frames = clip_like(rng, means, basis, around, 0.05)
        scene_vectors = normalise(frames.reshape(n, frames_per_scene, dim).mean(axis=1))
        video_rows, scene_rows, frame_rows = [], [], []
        for v in range(count):
            video_id = first + v + 1
            video_rows.append(
                (video_id, f"/videos/{video_id}.mp4", f"hash{video_id}", float(scenes_per_video))
            )
            for s in range(scenes_per_video):
                row = v * scenes_per_video + s
                vector = scene_vectors[row].tobytes()
                scene_rows.append(
                    (next_scene, video_id, s, float(s), float(s + 1), s * 30, (s + 1) * 30, vector)
                )
                for f in range(frames_per_scene):
                    time_s = s + f / frames_per_scene
                    frame_vector = frames[row * frames_per_scene + f].tobytes()
                    frame_rows.append(
                        (next_frame, video_id, next_scene, int(time_s * 30), time_s, frame_vector)
                    )
                    next_frame += 1
                all_ids.append(next_scene)
                all_videos.append(video_id)
                next_scene += 1
        with store.write() as conn:
            conn.executemany(
                "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
                "frame_count, scene_count, sample_count, ingested_at) "
                f"VALUES (?, ?, ?, ?, 30, 1280, 720, 0, {scenes_per_video}, "
                f"{scenes_per_video * frames_per_scene}, 0)",
                video_rows,
            )
            conn.executemany(
                "INSERT INTO scenes (id, video_id, idx, start_s, end_s, start_frame, end_frame, "
                "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                scene_rows,
            )
            conn.executemany(
                "INSERT INTO frames (id, video_id, scene_id, frame_no, time_s, vector) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                frame_rows,
            )
        all_vectors.append(scene_vectors)
    return Library(
        np.asarray(all_ids, dtype=np.int64),
        np.asarray(all_videos, dtype=np.int64),
        np.concatenate(all_vectors) if all_vectors else np.zeros((0, dim), np.float32),
    )


def exact_top(library: Library, query: Vectors, k: int, allowed: np.ndarray) -> np.ndarray:
    """Reference answer: ids of the k best scenes among `allowed` (a mask over the library)."""
    scores = library.vectors @ query.reshape(-1)
    scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return library.scene_ids[order[np.isfinite(scores[order])]]
