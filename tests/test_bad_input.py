"""Bad input of every kind: a specific status, an actionable message, and the server stays up.

One server for the module, with a small upload limit, a short stall timeout and the worker's
fault hook armed, so crash isolation is tested with a real SIGSEGV and a real hang.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import grpc
import numpy as np
import pytest

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.ingest.worker import FAULT_ENV
from scenesearch.v1 import scenesearch_pb2 as pb
from tests.conftest import make_settings
from tests.support.synthetic import write_audio_only, write_video

UPLOAD_LIMIT = 200_000


@pytest.fixture(scope="module")
def strict(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[RunningServer]:
    # Inherited by every worker process spawned meanwhile, restarted ones included.
    os.environ[FAULT_ENV] = "segv:crashme,hang:hangme"
    try:
        settings = replace(
            make_settings(tmp_path_factory.mktemp("strict"), tiny_model, media_root),
            max_upload_bytes=UPLOAD_LIMIT,
            stall_timeout_s=6.0,
        )
        running = start_server(settings)
        yield running
        running.stop(1.0)
    finally:
        del os.environ[FAULT_ENV]


@pytest.fixture()
def api(strict: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{strict.port}", timeout_s=60) as client:
        yield client


def status_of(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except ClientError as exc:
        assert exc.message, "every error carries a message a person can act on"
        return exc.code
    return grpc.StatusCode.OK


def assert_still_serving(api: SceneSearchClient, media_root: Path) -> None:
    ok = write_video(media_root / "still_fine.mp4", [1.0, 1.0], seed=123)
    assert api.ingest_path(str(ok.path)).video_id > 0
    assert api.stats().video_count >= 1


def test_truncated_video_indexes_the_good_part_and_says_so(
    api: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "whole.mkv", [2.0, 2.0, 2.0], seed=40)
    cut = media_root / "truncated.mkv"
    data = video.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    final = api.ingest_path(str(cut))
    assert "truncated" in final.message or "damaged" in final.message
    assert 0 < api.get_video(final.video_id).video.duration_s < 6.0


def test_corrupted_middle_still_ingests(api: SceneSearchClient, media_root: Path) -> None:
    video = write_video(media_root / "whole2.mkv", [2.0, 2.0], seed=41)
    data = bytearray(video.path.read_bytes())
    rng = np.random.default_rng(0)
    middle = slice(len(data) * 2 // 5, len(data) * 3 // 5)
    data[middle] = rng.integers(0, 256, middle.stop - middle.start, dtype=np.uint8).tobytes()
    bad = media_root / "corrupted_middle.mkv"
    bad.write_bytes(bytes(data))
    assert status_of(lambda: api.ingest_path(str(bad))) == grpc.StatusCode.OK


def video_stream_of_garbage(path: Path) -> Path:
    """A valid container whose video packets hold no decodable picture."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 25)
        rng = np.random.default_rng(1)
        for i in range(25):
            packet = av.Packet(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
            packet.stream, packet.pts, packet.dts = stream, i, i
            packet.time_base = Fraction(1, 25)
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("zero_bytes.mp4", lambda p: p.write_bytes(b"")),
        ("notes.mp4", lambda p: p.write_text("definitely not a video\n" * 50)),
        ("tone.m4a", lambda p: write_audio_only(p)),
        ("no_frames.mkv", video_stream_of_garbage),
    ],
)
def test_not_a_usable_video_is_invalid_argument(
    api: SceneSearchClient, media_root: Path, name: str, make: object
) -> None:
    path = media_root / name
    make(path)  # type: ignore[operator]
    before = len(api.list_videos())
    assert status_of(lambda: api.ingest_path(str(path))) == grpc.StatusCode.INVALID_ARGUMENT
    assert len(api.list_videos()) == before  # nothing half-written, no reserved row left


def test_paths_are_confined_to_media_roots(
    api: SceneSearchClient, media_root: Path, tmp_path: Path
) -> None:
    outside = write_video(tmp_path / "outside.mp4", [1.0])
    link = media_root / "escape_link.mp4"
    link.unlink(missing_ok=True)
    link.symlink_to(outside.path)
    (media_root / "a_folder").mkdir(exist_ok=True)
    cases = {
        str(outside.path): grpc.StatusCode.PERMISSION_DENIED,
        f"{media_root}/../{tmp_path.name}/outside.mp4": grpc.StatusCode.PERMISSION_DENIED,
        str(link): grpc.StatusCode.PERMISSION_DENIED,
        str(media_root / "missing.mp4"): grpc.StatusCode.NOT_FOUND,
        str(media_root / "a_folder"): grpc.StatusCode.INVALID_ARGUMENT,
        "relative/video.mp4": grpc.StatusCode.INVALID_ARGUMENT,
        "": grpc.StatusCode.INVALID_ARGUMENT,
    }
    for path, code in cases.items():
        assert status_of(lambda p=path: api.ingest_path(p)) == code, path


def test_upload_over_the_limit_is_resource_exhausted(
    api: SceneSearchClient, tmp_path: Path, strict: RunningServer
) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(UPLOAD_LIMIT + 1))
    assert status_of(lambda: api.upload(big)) == grpc.StatusCode.RESOURCE_EXHAUSTED

    # Lying about the size does not help: the limit is enforced on the bytes received.
    def lying() -> Iterator[pb.UploadVideoRequest]:
        yield pb.UploadVideoRequest(header=pb.UploadHeader(filename="x.mp4", size_bytes=10))
        for _ in range(5):
            yield pb.UploadVideoRequest(chunk=os.urandom(60_000))

    with pytest.raises(grpc.RpcError) as info:
        list(api.stub.UploadVideo(lying(), timeout=30))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not list((strict.data_dir / "uploads").glob("upload-*"))


def test_upload_that_stops_mid_stream_leaves_nothing(
    api: SceneSearchClient, strict: RunningServer, media_root: Path
) -> None:
    before = len(api.list_videos())
    stop = threading.Event()

    def stalls() -> Iterator[pb.UploadVideoRequest]:
        yield pb.UploadVideoRequest(header=pb.UploadHeader(filename="half.mp4", size_bytes=100_000))
        yield pb.UploadVideoRequest(chunk=b"\0" * 10_000)
        stop.wait(10)  # the client goes away mid-upload

    call = api.stub.UploadVideo(stalls(), timeout=30)
    threading.Timer(1.0, call.cancel).start()
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    stop.set()
    assert info.value.code() == grpc.StatusCode.CANCELLED

    def short() -> Iterator[pb.UploadVideoRequest]:  # half-closes early
        yield pb.UploadVideoRequest(header=pb.UploadHeader(filename="s.mp4", size_bytes=5000))
        yield pb.UploadVideoRequest(chunk=b"\0" * 100)

    with pytest.raises(grpc.RpcError) as info:
        list(api.stub.UploadVideo(short(), timeout=30))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        list(api.stub.UploadVideo(iter([pb.UploadVideoRequest(chunk=b"x")]), timeout=30))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(api.list_videos()) == before
    assert not list((strict.data_dir / "uploads").glob("upload-*"))
    assert_still_serving(api, media_root)


def test_query_validation(api: SceneSearchClient) -> None:
    assert status_of(lambda: api.search_text("")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(lambda: api.search_image(b"\x00" * 64)) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(lambda: api.search_text("x", top_k=-5)) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(lambda: api.search_text("x", top_k=1001)) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(lambda: api.search_text("x", top_k=0)) == grpc.StatusCode.OK  # default 10
    assert api.search_text("dog " * 100).query_truncated
    with pytest.raises(grpc.RpcError) as info:
        api.stub.Search(pb.SearchRequest(top_k=3), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call in (
        lambda: api.search_scene(10**9),
        lambda: api.get_video(10**9),
        lambda: api.delete_video(10**9),
    ):
        assert status_of(call) == grpc.StatusCode.NOT_FOUND
    bad = pb.IngestVideoRequest(path="/x.mp4", options=pb.IngestOptions(detector="magic"))
    with pytest.raises(grpc.RpcError) as info:
        list(api.stub.IngestVideo(bad, timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_duplicate_concurrent_ingests_make_one_video(
    api: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "popular.mp4", [1.5, 1.5], seed=55)
    results: list[object] = []

    def ingest() -> None:
        results.append(api.ingest_path(str(video.path)).video_id)

    threads = [threading.Thread(target=ingest) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert [v.path for v in api.list_videos()].count(str(video.path)) == 1


@pytest.mark.slow
def test_decoder_crash_and_hang_fail_one_job_only(api: SceneSearchClient, media_root: Path) -> None:
    crash = write_video(media_root / "crashme.mp4", [1.0], seed=60)
    hang = write_video(media_root / "hangme.mp4", [1.0], seed=61)
    with pytest.raises(ClientError) as info:
        api.ingest_path(str(crash.path))
    assert info.value.code == grpc.StatusCode.ABORTED
    assert "died (signal 11)" in info.value.message
    with pytest.raises(ClientError) as info:
        api.ingest_path(str(hang.path))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no progress" in info.value.message
    assert not any(v.path in (str(crash.path), str(hang.path)) for v in api.list_videos())
    assert_still_serving(api, media_root)
