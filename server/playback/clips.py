"""Clip export: an MP4 of [start_s, end_s) of a video, streamed from a temporary file.

Codecs MP4 carries (H.264, HEVC, MPEG-4, AV1, VP9) are stream-copied from the keyframe at or
before the start: no quality loss and no decoding, so the clip starts up to one GOP early.
Anything else is decoded and re-encoded as H.264. AAC or MP3 audio is copied along; other
audio is dropped (the clip is for looking at).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av

from scenesearch.server.errors import InvalidArgument, UnsupportedMedia

COPY_VIDEO = {"h264", "hevc", "mpeg4", "av1", "vp9"}
COPY_AUDIO = {"aac", "mp3"}
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ClipFile:
    start_s: float  # where the clip really starts (a keyframe when stream-copied)
    end_s: float
    stream_copy: bool
    file: IO[bytes]

    def chunks(self) -> Iterator[bytes]:
        with self.file:
            self.file.seek(0)
            while chunk := self.file.read(CHUNK_BYTES):
                yield chunk


def export_clip(path: Path, start_s: float, end_s: float) -> ClipFile:
    """Times are seconds from the video's first frame, as ingest records them."""
    if start_s < 0 or end_s <= start_s:
        raise InvalidArgument(f"the clip span {start_s:.3f}-{end_s:.3f}s is empty or negative")
    # Closed by ClipFile.chunks once streamed, or below on failure.
    out = tempfile.TemporaryFile(prefix="scenesearch-clip-")  # noqa: SIM115
    try:
        with av.open(str(path)) as src:
            video = src.streams.video[0]
            if video.codec_context.name in COPY_VIDEO:
                first = _copy(src, video, out, start_s, end_s)
                return ClipFile(first, end_s, True, out)
            _transcode(src, video, out, start_s, end_s)
            return ClipFile(start_s, end_s, False, out)
    except av.error.FFmpegError as exc:
        out.close()
        raise UnsupportedMedia(f"cannot cut a clip from {path.name}: {exc}") from exc
    except BaseException:
        out.close()
        raise


def _origin(stream: Any) -> int:
    return int(stream.start_time or 0)


def _copy(src: Any, video: Any, out: IO[bytes], start_s: float, end_s: float) -> float:
    tb = video.time_base
    base = _origin(video)
    audio = next((a for a in src.streams.audio if a.codec_context.name in COPY_AUDIO), None)
    with av.open(out, "w", format="mp4") as dst:
        out_video = dst.add_stream_from_template(video)
        out_audio = dst.add_stream_from_template(audio) if audio is not None else None
        src.seek(base + int(start_s / tb), stream=video, backward=True, any_frame=False)
        offset_s: float | None = None  # source time (s) that becomes 0 in the clip
        streams = [video] if audio is None else [video, audio]
        for packet in src.demux(*streams):
            if packet.dts is None or packet.pts is None:
                continue
            stream_tb = packet.stream.time_base
            at_s = float((packet.pts - _origin(packet.stream)) * stream_tb)
            if packet.stream is video:
                if offset_s is None:
                    if not packet.is_keyframe:
                        continue
                    offset_s = at_s
                if float((packet.dts - base) * tb) >= end_s:
                    break
            elif offset_s is None or at_s < offset_s or at_s >= end_s:
                continue
            shift = _origin(packet.stream) + round(offset_s / stream_tb)
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = out_video if packet.stream is video else out_audio
            dst.mux(packet)
    if offset_s is None:
        raise InvalidArgument(f"the video has no frames between {start_s:.3f}s and {end_s:.3f}s")
    return offset_s


def _transcode(src: Any, video: Any, out: IO[bytes], start_s: float, end_s: float) -> None:
    tb = video.time_base
    base = _origin(video)
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    with av.open(out, "w", format="mp4") as dst:
        fps = Fraction(rate).limit_denominator(1001)
        encoder = dst.add_stream("libx264", rate=fps)
        # Frames are numbered in order: pts counts frames at the stream's rate.
        encoder.time_base = encoder.codec_context.time_base = 1 / fps
        encoder.pix_fmt = "yuv420p"
        encoder.width = video.codec_context.width // 2 * 2
        encoder.height = video.codec_context.height // 2 * 2
        src.seek(base + int(start_s / tb), stream=video, backward=True)
        written = 0
        for frame in src.decode(video):
            at_s = float((frame.pts - base) * tb) if frame.pts is not None else start_s
            if at_s < start_s:
                continue
            if at_s >= end_s:
                break
            picture = frame.reformat(encoder.width, encoder.height, "yuv420p")
            picture.pts = written
            picture.time_base = 1 / fps
            dst.mux(encoder.encode(picture))
            written += 1
        dst.mux(encoder.encode(None))
    if written == 0:
        raise InvalidArgument(f"the video has no frames between {start_s:.3f}s and {end_s:.3f}s")
