"""Sample stage: which frames get embedded, and how frames and scenes fit together.

Pure functions and small state only; no I/O, so each rule is tested on plain numbers.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.server.domain import SampledFrame, SceneSpan, Vectors
from scenesearch.server.ingest.pipeline.decode import DecodedFrame
from scenesearch.server.vector_maths import normalise


class IntervalSampler:
    """Due once per `interval_s` of presentation time, starting with the first frame."""

    def __init__(self, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("sample interval must be positive")
        self.interval_s = interval_s
        self._next_s = 0.0

    def due(self, time_s: float) -> bool:
        if time_s + 1e-9 < self._next_s:
            return False
        # Skip whole intervals a gap in the stream jumped over, so one frame is not
        # sampled repeatedly to catch up.
        steps = int((time_s - self._next_s) // self.interval_s) + 1
        self._next_s += steps * self.interval_s
        return True


class RecentFrames:
    """Frames kept for a detector that reports a cut a few frames after it happened."""

    def __init__(self, capacity: int) -> None:
        self._frames: deque[DecodedFrame] = deque(maxlen=max(capacity, 1))

    def add(self, frame: DecodedFrame) -> None:
        self._frames.append(frame)

    def find(self, index: int) -> DecodedFrame | None:
        for frame in reversed(self._frames):
            if frame.index == index:
                return frame
        return None


@dataclass(frozen=True, slots=True)
class FrameClock:
    """Presentation times of every decoded frame, in decode order."""

    times_s: Sequence[float]

    def end_time(self) -> float:
        """End of the last frame: its start plus the typical frame duration."""
        times = self.times_s
        if not times:
            return 0.0
        if len(times) == 1:
            return times[0]
        step = float(np.median(np.diff(np.asarray(times[-min(len(times), 32) :]))))
        return times[-1] + max(step, 0.0)


def build_scenes(cut_frames: Sequence[int], clock: FrameClock) -> tuple[SceneSpan, ...]:
    """Scenes from the frames where new scenes start; no cut means one scene."""
    total = len(clock.times_s)
    if total == 0:
        return ()
    starts = [0, *sorted({c for c in cut_frames if 0 < c < total})]
    ends = [*starts[1:], total]
    end_time = clock.end_time()
    return tuple(
        SceneSpan(
            index=i,
            start_frame=start,
            end_frame=end,
            start_s=clock.times_s[start],
            end_s=clock.times_s[end] if end < total else end_time,
        )
        for i, (start, end) in enumerate(zip(starts, ends, strict=True))
    )


def assign_frames(
    samples: Sequence[tuple[int, float]], scenes: Sequence[SceneSpan]
) -> tuple[SampledFrame, ...]:
    """Attach each (frame_no, time_s) sample to the scene containing it, in frame order."""
    starts = [s.start_frame for s in scenes]
    return tuple(
        SampledFrame(frame_no=no, time_s=t, scene_index=bisect.bisect_right(starts, no) - 1)
        for no, t in sorted(set(samples))
    )


def scene_vectors(
    frames: Sequence[SampledFrame], frame_vectors: Vectors, scene_count: int
) -> Vectors:
    """L2-normalised mean of each scene's frame vectors.

    A scene with no sampled frame (only possible when a detector reports a cut further back
    than the frames it keeps) borrows the nearest sampled frame, so it stays searchable.
    """
    dim = frame_vectors.shape[1]
    sums = np.zeros((scene_count, dim), dtype=np.float64)
    counts = np.zeros(scene_count, dtype=np.int64)
    for row, frame in enumerate(frames):
        sums[frame.scene_index] += frame_vectors[row]
        counts[frame.scene_index] += 1
    scene_of_frame = np.array([f.scene_index for f in frames])
    for empty in np.flatnonzero(counts == 0):
        nearest = int(np.argmin(np.abs(scene_of_frame - empty)))
        sums[empty] = frame_vectors[nearest]
    return normalise(sums)
