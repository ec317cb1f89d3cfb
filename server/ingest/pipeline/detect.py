"""Detect stage: PySceneDetect detectors fed frame by frame from the decode pass.

Detectors are addressed by frame number (a frame-based FrameTimecode), so a reported cut maps
back to an exact decoded frame; its time then comes from that frame's presentation timestamp,
which keeps variable-frame-rate video correct.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scenedetect import (
    AdaptiveDetector,
    ContentDetector,
    FrameTimecode,
    HistogramDetector,
    SceneDetector,
    ThresholdDetector,
)

from scenesearch.contract import DETECTORS, check_choice, require_registered


def _with_threshold(
    factory: Callable[..., SceneDetector], key: str
) -> Callable[[float], SceneDetector]:
    def build(threshold: float) -> SceneDetector:
        return factory(**({key: threshold} if threshold > 0 else {}))

    return build


# The registry: one line per detector named in scenesearch.contract.DETECTORS.
DETECTOR_FACTORIES: dict[str, Callable[[float], SceneDetector]] = {
    "content": _with_threshold(ContentDetector, "threshold"),
    "adaptive": _with_threshold(AdaptiveDetector, "adaptive_threshold"),
    "threshold": _with_threshold(ThresholdDetector, "threshold"),
    "histogram": _with_threshold(HistogramDetector, "threshold"),
}
require_registered("detector", DETECTORS, DETECTOR_FACTORIES)


class CutDetector:
    """Feed RGB frames in order; collect the frame numbers where new scenes start."""

    def __init__(self, detector: SceneDetector, fps: float) -> None:
        self._detector = detector
        self._fps = float(fps) if fps > 0 else 30.0
        self._last_index = -1

    @classmethod
    def named(cls, name: str, threshold: float, fps: float) -> CutDetector:
        factory = DETECTOR_FACTORIES[check_choice("detector", name, DETECTORS)]
        return cls(factory(threshold), fps)

    @property
    def lookback_frames(self) -> int:
        """How far in the past a detector may report a cut."""
        return int(self._detector.event_buffer_length)

    def push(self, index: int, bgr: npt.NDArray[np.uint8]) -> list[int]:
        """Feed frame `index` as a BGR picture (OpenCV order, as detectors expect)."""
        self._last_index = index
        cuts = self._detector.process_frame(self._timecode(index), bgr)
        return [tc.frame_num for tc in cuts]

    def finish(self) -> list[int]:
        if self._last_index < 0:
            return []
        return [
            tc.frame_num for tc in self._detector.post_process(self._timecode(self._last_index))
        ]

    def _timecode(self, index: int) -> FrameTimecode:
        return FrameTimecode(index, fps=self._fps)
