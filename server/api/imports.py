"""ImportVideo's stream → an ImportedVideo: a header, then chunks of scenes, frames and
thumbnails. Pure conversion plus the size limit; the checks that need the store live in
server/ingest/importer.py."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from scenesearch.server.domain import DecodedVideo, SampledFrame, SceneSpan, SceneThumbnail
from scenesearch.server.errors import InvalidArgument, ResourceExhausted
from scenesearch.server.ingest.importer import ImportedVideo, ImportOutcome
from scenesearch.v1 import scenesearch_pb2 as pb


def imported_video(requests: Iterable[pb.ImportVideoRequest], max_bytes: int) -> ImportedVideo:
    """Read the whole stream; InvalidArgument for a malformed one, ResourceExhausted past
    `max_bytes` of payload."""
    stream = iter(requests)
    first = next(stream, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgument("the first ImportVideo message must be the header")
    header = first.header
    if header.dimension <= 0:
        raise InvalidArgument("the import header must give the embedding dimension")
    scenes: list[SceneSpan] = []
    frames: list[SampledFrame] = []
    vectors: list[bytes] = []
    thumbnails: list[SceneThumbnail] = []
    received = 0
    vector_bytes = 4 * header.dimension
    for message in stream:
        if message.WhichOneof("part") != "chunk":
            raise InvalidArgument("only chunks may follow the import header")
        chunk = message.chunk
        received += chunk.ByteSize()
        if received > max_bytes:
            raise ResourceExhausted(
                f"the import is larger than the server's limit ({max_bytes / 1024**2:.0f} MiB); "
                "raise it with --max-upload-mb"
            )
        scenes += (
            SceneSpan(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s) for s in chunk.scenes
        )
        for f in chunk.frames:
            if len(f.vector) != vector_bytes:
                raise InvalidArgument(
                    f"frame {f.frame_no}: a vector must be {header.dimension} float32 values"
                )
            frames.append(SampledFrame(f.frame_no, f.time_s, f.scene_index))
            vectors.append(f.vector)
        thumbnails += (
            SceneThumbnail(t.scene_index, t.time_s, t.jpeg, t.width, t.height)
            for t in chunk.thumbnails
        )
    if len(scenes) != header.scene_count or len(frames) != header.sample_count:
        raise InvalidArgument(
            f"the import is incomplete: the header announced {header.scene_count} scenes and "
            f"{header.sample_count} frames, the chunks carried {len(scenes)} and {len(frames)}"
        )
    matrix = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(frames), header.dimension)
    return ImportedVideo(
        path=header.path,
        content_hash=header.content_hash,
        model=header.model,
        dimension=header.dimension,
        info=DecodedVideo(
            duration_s=header.duration_s,
            fps=header.fps,
            width=header.width,
            height=header.height,
            frame_count=header.frame_count,
            rotation=header.rotation,
        ),
        scenes=tuple(scenes),
        frames=tuple(frames),
        frame_vectors=matrix.astype(np.float32),
        thumbnails=tuple(sorted(thumbnails, key=lambda t: t.scene_index)),
        warnings=tuple(header.warnings),
    )


def outcome_to_proto(outcome: ImportOutcome) -> pb.ImportVideoResponse:
    return pb.ImportVideoResponse(
        video_id=outcome.video_id,
        already_ingested=outcome.already_ingested,
        scene_count=outcome.scene_count,
        sample_count=outcome.sample_count,
    )
