from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STAGE_UNSPECIFIED: _ClassVar[IngestStage]
    INGEST_STAGE_QUEUED: _ClassVar[IngestStage]
    INGEST_STAGE_HASHING: _ClassVar[IngestStage]
    INGEST_STAGE_DECODING: _ClassVar[IngestStage]
    INGEST_STAGE_COMMITTING: _ClassVar[IngestStage]
    INGEST_STAGE_DONE: _ClassVar[IngestStage]

class ScoreKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORE_KIND_UNSPECIFIED: _ClassVar[ScoreKind]
    SCORE_KIND_COSINE: _ClassVar[ScoreKind]
    SCORE_KIND_CALIBRATED: _ClassVar[ScoreKind]

class MissingSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSING_SOURCE_UNSPECIFIED: _ClassVar[MissingSource]
    MISSING_SOURCE_KEEP: _ClassVar[MissingSource]
    MISSING_SOURCE_DROP: _ClassVar[MissingSource]

class ReembedState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REEMBED_STATE_UNSPECIFIED: _ClassVar[ReembedState]
    REEMBED_STATE_BUILDING: _ClassVar[ReembedState]
    REEMBED_STATE_DONE: _ClassVar[ReembedState]
    REEMBED_STATE_CANCELLED: _ClassVar[ReembedState]
    REEMBED_STATE_FAILED: _ClassVar[ReembedState]
INGEST_STAGE_UNSPECIFIED: IngestStage
INGEST_STAGE_QUEUED: IngestStage
INGEST_STAGE_HASHING: IngestStage
INGEST_STAGE_DECODING: IngestStage
INGEST_STAGE_COMMITTING: IngestStage
INGEST_STAGE_DONE: IngestStage
SCORE_KIND_UNSPECIFIED: ScoreKind
SCORE_KIND_COSINE: ScoreKind
SCORE_KIND_CALIBRATED: ScoreKind
MISSING_SOURCE_UNSPECIFIED: MissingSource
MISSING_SOURCE_KEEP: MissingSource
MISSING_SOURCE_DROP: MissingSource
REEMBED_STATE_UNSPECIFIED: ReembedState
REEMBED_STATE_BUILDING: ReembedState
REEMBED_STATE_DONE: ReembedState
REEMBED_STATE_CANCELLED: ReembedState
REEMBED_STATE_FAILED: ReembedState

class IngestOptions(_message.Message):
    __slots__ = ("sample_interval_s", "detector", "threshold")
    SAMPLE_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sample_interval_s: float
    detector: str
    threshold: float
    def __init__(self, sample_interval_s: _Optional[float] = ..., detector: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class IngestVideoRequest(_message.Message):
    __slots__ = ("path", "options")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    path: str
    options: IngestOptions
    def __init__(self, path: _Optional[str] = ..., options: _Optional[_Union[IngestOptions, _Mapping]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("filename", "size_bytes", "options")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size_bytes: int
    options: IngestOptions
    def __init__(self, filename: _Optional[str] = ..., size_bytes: _Optional[int] = ..., options: _Optional[_Union[IngestOptions, _Mapping]] = ...) -> None: ...

class UploadVideoRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class IngestProgress(_message.Message):
    __slots__ = ("job_id", "stage", "fraction", "frames_done", "frames_total", "video_id", "already_ingested", "message")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DONE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    ALREADY_INGESTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: IngestStage
    fraction: float
    frames_done: int
    frames_total: int
    video_id: int
    already_ingested: bool
    message: str
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[_Union[IngestStage, str]] = ..., fraction: _Optional[float] = ..., frames_done: _Optional[int] = ..., frames_total: _Optional[int] = ..., video_id: _Optional[int] = ..., already_ingested: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("text", "image", "scene_id", "top_k", "video_ids", "min_score", "exclude_same_video", "terms", "per_video_limit", "time_from_s", "time_to_s", "sort_by_time", "min_score_kind", "generation")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    VIDEO_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_SAME_VIDEO_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    PER_VIDEO_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TIME_FROM_S_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_S_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_TIME_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_KIND_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: bytes
    scene_id: int
    top_k: int
    video_ids: _containers.RepeatedScalarFieldContainer[int]
    min_score: float
    exclude_same_video: bool
    terms: _containers.RepeatedCompositeFieldContainer[QueryTerm]
    per_video_limit: int
    time_from_s: float
    time_to_s: float
    sort_by_time: bool
    min_score_kind: ScoreKind
    generation: str
    def __init__(self, text: _Optional[str] = ..., image: _Optional[bytes] = ..., scene_id: _Optional[int] = ..., top_k: _Optional[int] = ..., video_ids: _Optional[_Iterable[int]] = ..., min_score: _Optional[float] = ..., exclude_same_video: _Optional[bool] = ..., terms: _Optional[_Iterable[_Union[QueryTerm, _Mapping]]] = ..., per_video_limit: _Optional[int] = ..., time_from_s: _Optional[float] = ..., time_to_s: _Optional[float] = ..., sort_by_time: _Optional[bool] = ..., min_score_kind: _Optional[_Union[ScoreKind, str]] = ..., generation: _Optional[str] = ...) -> None: ...

class QueryTerm(_message.Message):
    __slots__ = ("text", "image", "scene_id", "concept", "weight")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: bytes
    scene_id: int
    concept: str
    weight: float
    def __init__(self, text: _Optional[str] = ..., image: _Optional[bytes] = ..., scene_id: _Optional[int] = ..., concept: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("video_id", "video_path", "scene_id", "scene_index", "start_s", "end_s", "best_time_s", "score", "index_kind", "term_scores", "calibrated_score")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_PATH_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    SCENE_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    BEST_TIME_S_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    INDEX_KIND_FIELD_NUMBER: _ClassVar[int]
    TERM_SCORES_FIELD_NUMBER: _ClassVar[int]
    CALIBRATED_SCORE_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    video_path: str
    scene_id: int
    scene_index: int
    start_s: float
    end_s: float
    best_time_s: float
    score: float
    index_kind: str
    term_scores: _containers.RepeatedScalarFieldContainer[float]
    calibrated_score: float
    def __init__(self, video_id: _Optional[int] = ..., video_path: _Optional[str] = ..., scene_id: _Optional[int] = ..., scene_index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., best_time_s: _Optional[float] = ..., score: _Optional[float] = ..., index_kind: _Optional[str] = ..., term_scores: _Optional[_Iterable[float]] = ..., calibrated_score: _Optional[float] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "index_kind", "query_truncated", "model", "generation")
    HITS_FIELD_NUMBER: _ClassVar[int]
    INDEX_KIND_FIELD_NUMBER: _ClassVar[int]
    QUERY_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    index_kind: str
    query_truncated: bool
    model: str
    generation: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., index_kind: _Optional[str] = ..., query_truncated: _Optional[bool] = ..., model: _Optional[str] = ..., generation: _Optional[str] = ...) -> None: ...

class Video(_message.Message):
    __slots__ = ("id", "path", "content_hash", "duration_s", "fps", "width", "height", "frame_count", "scene_count", "sample_count", "ingested_at", "rotation", "status", "playable", "size_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PLAYABLE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: int
    path: str
    content_hash: str
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    scene_count: int
    sample_count: int
    ingested_at: float
    rotation: int
    status: str
    playable: bool
    size_bytes: int
    def __init__(self, id: _Optional[int] = ..., path: _Optional[str] = ..., content_hash: _Optional[str] = ..., duration_s: _Optional[float] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ..., scene_count: _Optional[int] = ..., sample_count: _Optional[int] = ..., ingested_at: _Optional[float] = ..., rotation: _Optional[int] = ..., status: _Optional[str] = ..., playable: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class Scene(_message.Message):
    __slots__ = ("id", "video_id", "index", "start_s", "end_s", "start_frame", "end_frame")
    ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    END_FRAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    video_id: int
    index: int
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int
    def __init__(self, id: _Optional[int] = ..., video_id: _Optional[int] = ..., index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., start_frame: _Optional[int] = ..., end_frame: _Optional[int] = ...) -> None: ...

class ListVideosRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListVideosResponse(_message.Message):
    __slots__ = ("videos",)
    VIDEOS_FIELD_NUMBER: _ClassVar[int]
    videos: _containers.RepeatedCompositeFieldContainer[Video]
    def __init__(self, videos: _Optional[_Iterable[_Union[Video, _Mapping]]] = ...) -> None: ...

class GetVideoRequest(_message.Message):
    __slots__ = ("video_id",)
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    def __init__(self, video_id: _Optional[int] = ...) -> None: ...

class GetVideoResponse(_message.Message):
    __slots__ = ("video", "scenes")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    SCENES_FIELD_NUMBER: _ClassVar[int]
    video: Video
    scenes: _containers.RepeatedCompositeFieldContainer[Scene]
    def __init__(self, video: _Optional[_Union[Video, _Mapping]] = ..., scenes: _Optional[_Iterable[_Union[Scene, _Mapping]]] = ...) -> None: ...

class DeleteVideoRequest(_message.Message):
    __slots__ = ("video_id",)
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    def __init__(self, video_id: _Optional[int] = ...) -> None: ...

class DeleteVideoResponse(_message.Message):
    __slots__ = ("scenes_removed",)
    SCENES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    scenes_removed: int
    def __init__(self, scenes_removed: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("video_count", "scene_count", "frame_count", "model", "dimension", "device", "index_kind", "index_params", "index_note", "index_size", "jobs_queued", "jobs_running", "generation", "store_id", "library_version", "warming")
    class IndexParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VIDEO_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    INDEX_KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_NOTE_FIELD_NUMBER: _ClassVar[int]
    INDEX_SIZE_FIELD_NUMBER: _ClassVar[int]
    JOBS_QUEUED_FIELD_NUMBER: _ClassVar[int]
    JOBS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    WARMING_FIELD_NUMBER: _ClassVar[int]
    video_count: int
    scene_count: int
    frame_count: int
    model: str
    dimension: int
    device: str
    index_kind: str
    index_params: _containers.ScalarMap[str, str]
    index_note: str
    index_size: int
    jobs_queued: int
    jobs_running: int
    generation: str
    store_id: str
    library_version: int
    warming: bool
    def __init__(self, video_count: _Optional[int] = ..., scene_count: _Optional[int] = ..., frame_count: _Optional[int] = ..., model: _Optional[str] = ..., dimension: _Optional[int] = ..., device: _Optional[str] = ..., index_kind: _Optional[str] = ..., index_params: _Optional[_Mapping[str, str]] = ..., index_note: _Optional[str] = ..., index_size: _Optional[int] = ..., jobs_queued: _Optional[int] = ..., jobs_running: _Optional[int] = ..., generation: _Optional[str] = ..., store_id: _Optional[str] = ..., library_version: _Optional[int] = ..., warming: _Optional[bool] = ...) -> None: ...

class RebuildIndexRequest(_message.Message):
    __slots__ = ("kind", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    params: _containers.ScalarMap[str, str]
    def __init__(self, kind: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RebuildIndexResponse(_message.Message):
    __slots__ = ("index_kind", "vectors", "seconds")
    INDEX_KIND_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    index_kind: str
    vectors: int
    seconds: float
    def __init__(self, index_kind: _Optional[str] = ..., vectors: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class Prompt(_message.Message):
    __slots__ = ("text", "image", "concept", "label")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: bytes
    concept: str
    label: str
    def __init__(self, text: _Optional[str] = ..., image: _Optional[bytes] = ..., concept: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("video_ids", "all_videos", "prompts", "null_prompt", "interval_s", "min_visible_s")
    VIDEO_IDS_FIELD_NUMBER: _ClassVar[int]
    ALL_VIDEOS_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    NULL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    MIN_VISIBLE_S_FIELD_NUMBER: _ClassVar[int]
    video_ids: _containers.RepeatedScalarFieldContainer[int]
    all_videos: bool
    prompts: _containers.RepeatedCompositeFieldContainer[Prompt]
    null_prompt: str
    interval_s: float
    min_visible_s: float
    def __init__(self, video_ids: _Optional[_Iterable[int]] = ..., all_videos: _Optional[bool] = ..., prompts: _Optional[_Iterable[_Union[Prompt, _Mapping]]] = ..., null_prompt: _Optional[str] = ..., interval_s: _Optional[float] = ..., min_visible_s: _Optional[float] = ...) -> None: ...

class IntervalLabel(_message.Message):
    __slots__ = ("start_s", "end_s", "label", "counts")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    label: str
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., label: _Optional[str] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("start_s", "end_s", "peak_s", "peak_score")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    PEAK_S_FIELD_NUMBER: _ClassVar[int]
    PEAK_SCORE_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    peak_s: float
    peak_score: float
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., peak_s: _Optional[float] = ..., peak_score: _Optional[float] = ...) -> None: ...

class PromptSummary(_message.Message):
    __slots__ = ("label", "coverage_pct", "contains", "first_seen_s", "visible_s", "segments")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_PCT_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_S_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    label: str
    coverage_pct: float
    contains: bool
    first_seen_s: float
    visible_s: float
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    def __init__(self, label: _Optional[str] = ..., coverage_pct: _Optional[float] = ..., contains: _Optional[bool] = ..., first_seen_s: _Optional[float] = ..., visible_s: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ...) -> None: ...

class ClassifyResult(_message.Message):
    __slots__ = ("video_id", "video_path", "duration_s", "labels", "intervals", "prompts", "model")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_PATH_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    video_path: str
    duration_s: float
    labels: _containers.RepeatedScalarFieldContainer[str]
    intervals: _containers.RepeatedCompositeFieldContainer[IntervalLabel]
    prompts: _containers.RepeatedCompositeFieldContainer[PromptSummary]
    model: str
    def __init__(self, video_id: _Optional[int] = ..., video_path: _Optional[str] = ..., duration_s: _Optional[float] = ..., labels: _Optional[_Iterable[str]] = ..., intervals: _Optional[_Iterable[_Union[IntervalLabel, _Mapping]]] = ..., prompts: _Optional[_Iterable[_Union[PromptSummary, _Mapping]]] = ..., model: _Optional[str] = ...) -> None: ...

class TimelineRequest(_message.Message):
    __slots__ = ("video_ids", "all_videos", "prompts", "smooth", "threshold")
    VIDEO_IDS_FIELD_NUMBER: _ClassVar[int]
    ALL_VIDEOS_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    SMOOTH_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    video_ids: _containers.RepeatedScalarFieldContainer[int]
    all_videos: bool
    prompts: _containers.RepeatedCompositeFieldContainer[Prompt]
    smooth: int
    threshold: float
    def __init__(self, video_ids: _Optional[_Iterable[int]] = ..., all_videos: _Optional[bool] = ..., prompts: _Optional[_Iterable[_Union[Prompt, _Mapping]]] = ..., smooth: _Optional[int] = ..., threshold: _Optional[float] = ...) -> None: ...

class Curve(_message.Message):
    __slots__ = ("label", "scores", "segments")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    label: str
    scores: _containers.RepeatedScalarFieldContainer[float]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    def __init__(self, label: _Optional[str] = ..., scores: _Optional[_Iterable[float]] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ...) -> None: ...

class TimelineResult(_message.Message):
    __slots__ = ("video_id", "video_path", "duration_s", "times_s", "curves", "scene_starts_s", "model")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_PATH_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TIMES_S_FIELD_NUMBER: _ClassVar[int]
    CURVES_FIELD_NUMBER: _ClassVar[int]
    SCENE_STARTS_S_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    video_path: str
    duration_s: float
    times_s: _containers.RepeatedScalarFieldContainer[float]
    curves: _containers.RepeatedCompositeFieldContainer[Curve]
    scene_starts_s: _containers.RepeatedScalarFieldContainer[float]
    model: str
    def __init__(self, video_id: _Optional[int] = ..., video_path: _Optional[str] = ..., duration_s: _Optional[float] = ..., times_s: _Optional[_Iterable[float]] = ..., curves: _Optional[_Iterable[_Union[Curve, _Mapping]]] = ..., scene_starts_s: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ...) -> None: ...

class GetThumbnailRequest(_message.Message):
    __slots__ = ("scene_id",)
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    scene_id: int
    def __init__(self, scene_id: _Optional[int] = ...) -> None: ...

class GetThumbnailResponse(_message.Message):
    __slots__ = ("jpeg", "width", "height", "time_s")
    JPEG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    jpeg: bytes
    width: int
    height: int
    time_s: float
    def __init__(self, jpeg: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., time_s: _Optional[float] = ...) -> None: ...

class ReadVideoRequest(_message.Message):
    __slots__ = ("video_id", "offset", "length")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    offset: int
    length: int
    def __init__(self, video_id: _Optional[int] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class VideoBytes(_message.Message):
    __slots__ = ("offset", "data", "total_size", "content_type")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    offset: int
    data: bytes
    total_size: int
    content_type: str
    def __init__(self, offset: _Optional[int] = ..., data: _Optional[bytes] = ..., total_size: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...

class ExportClipRequest(_message.Message):
    __slots__ = ("scene_id", "video_id", "start_s", "end_s")
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    scene_id: int
    video_id: int
    start_s: float
    end_s: float
    def __init__(self, scene_id: _Optional[int] = ..., video_id: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class ClipBytes(_message.Message):
    __slots__ = ("data", "filename", "start_s", "end_s", "stream_copy")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    STREAM_COPY_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    filename: str
    start_s: float
    end_s: float
    stream_copy: bool
    def __init__(self, data: _Optional[bytes] = ..., filename: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., stream_copy: _Optional[bool] = ...) -> None: ...

class ImportHeader(_message.Message):
    __slots__ = ("path", "content_hash", "model", "dimension", "duration_s", "fps", "width", "height", "frame_count", "rotation", "scene_count", "sample_count", "warnings")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    path: str
    content_hash: str
    model: str
    dimension: int
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    rotation: int
    scene_count: int
    sample_count: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., content_hash: _Optional[str] = ..., model: _Optional[str] = ..., dimension: _Optional[int] = ..., duration_s: _Optional[float] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ..., rotation: _Optional[int] = ..., scene_count: _Optional[int] = ..., sample_count: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportedScene(_message.Message):
    __slots__ = ("index", "start_frame", "end_frame", "start_s", "end_s")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    END_FRAME_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    def __init__(self, index: _Optional[int] = ..., start_frame: _Optional[int] = ..., end_frame: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class ImportedFrame(_message.Message):
    __slots__ = ("frame_no", "time_s", "scene_index", "vector")
    FRAME_NO_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    SCENE_INDEX_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    frame_no: int
    time_s: float
    scene_index: int
    vector: bytes
    def __init__(self, frame_no: _Optional[int] = ..., time_s: _Optional[float] = ..., scene_index: _Optional[int] = ..., vector: _Optional[bytes] = ...) -> None: ...

class ImportedThumbnail(_message.Message):
    __slots__ = ("scene_index", "time_s", "jpeg", "width", "height")
    SCENE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    scene_index: int
    time_s: float
    jpeg: bytes
    width: int
    height: int
    def __init__(self, scene_index: _Optional[int] = ..., time_s: _Optional[float] = ..., jpeg: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ImportChunk(_message.Message):
    __slots__ = ("scenes", "frames", "thumbnails")
    SCENES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILS_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[ImportedScene]
    frames: _containers.RepeatedCompositeFieldContainer[ImportedFrame]
    thumbnails: _containers.RepeatedCompositeFieldContainer[ImportedThumbnail]
    def __init__(self, scenes: _Optional[_Iterable[_Union[ImportedScene, _Mapping]]] = ..., frames: _Optional[_Iterable[_Union[ImportedFrame, _Mapping]]] = ..., thumbnails: _Optional[_Iterable[_Union[ImportedThumbnail, _Mapping]]] = ...) -> None: ...

class ImportVideoRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ImportHeader
    chunk: ImportChunk
    def __init__(self, header: _Optional[_Union[ImportHeader, _Mapping]] = ..., chunk: _Optional[_Union[ImportChunk, _Mapping]] = ...) -> None: ...

class ImportVideoResponse(_message.Message):
    __slots__ = ("video_id", "already_ingested", "scene_count", "sample_count")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    ALREADY_INGESTED_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    already_ingested: bool
    scene_count: int
    sample_count: int
    def __init__(self, video_id: _Optional[int] = ..., already_ingested: _Optional[bool] = ..., scene_count: _Optional[int] = ..., sample_count: _Optional[int] = ...) -> None: ...

class ConceptExamples(_message.Message):
    __slots__ = ("scene_ids", "images", "texts")
    SCENE_IDS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    scene_ids: _containers.RepeatedScalarFieldContainer[int]
    images: _containers.RepeatedScalarFieldContainer[bytes]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scene_ids: _Optional[_Iterable[int]] = ..., images: _Optional[_Iterable[bytes]] = ..., texts: _Optional[_Iterable[str]] = ...) -> None: ...

class SaveConceptRequest(_message.Message):
    __slots__ = ("name", "positive", "negative")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    name: str
    positive: ConceptExamples
    negative: ConceptExamples
    def __init__(self, name: _Optional[str] = ..., positive: _Optional[_Union[ConceptExamples, _Mapping]] = ..., negative: _Optional[_Union[ConceptExamples, _Mapping]] = ...) -> None: ...

class ConceptInfo(_message.Message):
    __slots__ = ("name", "version", "model", "usable", "positive_examples", "negative_examples", "positive_vectors", "negative_vectors", "random_negatives", "cv_accuracy", "cv_folds", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USABLE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    RANDOM_NEGATIVES_FIELD_NUMBER: _ClassVar[int]
    CV_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CV_FOLDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    model: str
    usable: bool
    positive_examples: int
    negative_examples: int
    positive_vectors: int
    negative_vectors: int
    random_negatives: int
    cv_accuracy: float
    cv_folds: int
    created_at: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., model: _Optional[str] = ..., usable: _Optional[bool] = ..., positive_examples: _Optional[int] = ..., negative_examples: _Optional[int] = ..., positive_vectors: _Optional[int] = ..., negative_vectors: _Optional[int] = ..., random_negatives: _Optional[int] = ..., cv_accuracy: _Optional[float] = ..., cv_folds: _Optional[int] = ..., created_at: _Optional[float] = ...) -> None: ...

class SaveConceptResponse(_message.Message):
    __slots__ = ("concept",)
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    concept: ConceptInfo
    def __init__(self, concept: _Optional[_Union[ConceptInfo, _Mapping]] = ...) -> None: ...

class ListConceptsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListConceptsResponse(_message.Message):
    __slots__ = ("concepts",)
    CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    concepts: _containers.RepeatedCompositeFieldContainer[ConceptInfo]
    def __init__(self, concepts: _Optional[_Iterable[_Union[ConceptInfo, _Mapping]]] = ...) -> None: ...

class GetConceptRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetConceptResponse(_message.Message):
    __slots__ = ("concept", "positive", "negative", "weights", "bias")
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    concept: ConceptInfo
    positive: ConceptExamples
    negative: ConceptExamples
    weights: _containers.RepeatedScalarFieldContainer[float]
    bias: float
    def __init__(self, concept: _Optional[_Union[ConceptInfo, _Mapping]] = ..., positive: _Optional[_Union[ConceptExamples, _Mapping]] = ..., negative: _Optional[_Union[ConceptExamples, _Mapping]] = ..., weights: _Optional[_Iterable[float]] = ..., bias: _Optional[float] = ...) -> None: ...

class DeleteConceptRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteConceptResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class TemporalStep(_message.Message):
    __slots__ = ("term", "threshold", "negated")
    TERM_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NEGATED_FIELD_NUMBER: _ClassVar[int]
    term: QueryTerm
    threshold: float
    negated: bool
    def __init__(self, term: _Optional[_Union[QueryTerm, _Mapping]] = ..., threshold: _Optional[float] = ..., negated: _Optional[bool] = ...) -> None: ...

class TemporalSearchRequest(_message.Message):
    __slots__ = ("steps", "max_gap_s", "smooth", "top_k", "video_ids", "shortlist_scenes", "exhaustive")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_GAP_S_FIELD_NUMBER: _ClassVar[int]
    SMOOTH_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    VIDEO_IDS_FIELD_NUMBER: _ClassVar[int]
    SHORTLIST_SCENES_FIELD_NUMBER: _ClassVar[int]
    EXHAUSTIVE_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[TemporalStep]
    max_gap_s: float
    smooth: int
    top_k: int
    video_ids: _containers.RepeatedScalarFieldContainer[int]
    shortlist_scenes: int
    exhaustive: bool
    def __init__(self, steps: _Optional[_Iterable[_Union[TemporalStep, _Mapping]]] = ..., max_gap_s: _Optional[float] = ..., smooth: _Optional[int] = ..., top_k: _Optional[int] = ..., video_ids: _Optional[_Iterable[int]] = ..., shortlist_scenes: _Optional[int] = ..., exhaustive: _Optional[bool] = ...) -> None: ...

class StepMatch(_message.Message):
    __slots__ = ("step", "start_s", "end_s", "peak_s", "score")
    STEP_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    PEAK_S_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    step: int
    start_s: float
    end_s: float
    peak_s: float
    score: float
    def __init__(self, step: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., peak_s: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class TemporalSpan(_message.Message):
    __slots__ = ("video_id", "video_path", "start_s", "end_s", "score", "matches")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_PATH_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    video_path: str
    start_s: float
    end_s: float
    score: float
    matches: _containers.RepeatedCompositeFieldContainer[StepMatch]
    def __init__(self, video_id: _Optional[int] = ..., video_path: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., score: _Optional[float] = ..., matches: _Optional[_Iterable[_Union[StepMatch, _Mapping]]] = ...) -> None: ...

class TemporalSearchResponse(_message.Message):
    __slots__ = ("spans", "videos_scanned", "shortlisted", "query_truncated", "model")
    SPANS_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    SHORTLISTED_FIELD_NUMBER: _ClassVar[int]
    QUERY_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    spans: _containers.RepeatedCompositeFieldContainer[TemporalSpan]
    videos_scanned: int
    shortlisted: bool
    query_truncated: bool
    model: str
    def __init__(self, spans: _Optional[_Iterable[_Union[TemporalSpan, _Mapping]]] = ..., videos_scanned: _Optional[int] = ..., shortlisted: _Optional[bool] = ..., query_truncated: _Optional[bool] = ..., model: _Optional[str] = ...) -> None: ...

class ReembedRequest(_message.Message):
    __slots__ = ("model", "missing")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    model: str
    missing: MissingSource
    def __init__(self, model: _Optional[str] = ..., missing: _Optional[_Union[MissingSource, str]] = ...) -> None: ...

class GetReembedRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelReembedRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReembedVideo(_message.Message):
    __slots__ = ("video_id", "path", "state", "reason")
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    video_id: int
    path: str
    state: str
    reason: str
    def __init__(self, video_id: _Optional[int] = ..., path: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReembedProgress(_message.Message):
    __slots__ = ("state", "source_model", "target_model", "source_generation", "target_generation", "missing", "videos_total", "videos_done", "unavailable", "current", "message", "concepts_retrained", "concepts_stale")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    TARGET_GENERATION_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    VIDEOS_DONE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONCEPTS_RETRAINED_FIELD_NUMBER: _ClassVar[int]
    CONCEPTS_STALE_FIELD_NUMBER: _ClassVar[int]
    state: ReembedState
    source_model: str
    target_model: str
    source_generation: str
    target_generation: str
    missing: MissingSource
    videos_total: int
    videos_done: int
    unavailable: _containers.RepeatedCompositeFieldContainer[ReembedVideo]
    current: ReembedVideo
    message: str
    concepts_retrained: _containers.RepeatedScalarFieldContainer[str]
    concepts_stale: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, state: _Optional[_Union[ReembedState, str]] = ..., source_model: _Optional[str] = ..., target_model: _Optional[str] = ..., source_generation: _Optional[str] = ..., target_generation: _Optional[str] = ..., missing: _Optional[_Union[MissingSource, str]] = ..., videos_total: _Optional[int] = ..., videos_done: _Optional[int] = ..., unavailable: _Optional[_Iterable[_Union[ReembedVideo, _Mapping]]] = ..., current: _Optional[_Union[ReembedVideo, _Mapping]] = ..., message: _Optional[str] = ..., concepts_retrained: _Optional[_Iterable[str]] = ..., concepts_stale: _Optional[_Iterable[str]] = ...) -> None: ...
