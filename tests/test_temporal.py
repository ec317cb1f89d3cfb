"""Temporal queries: the span rule on exact numbers, then TemporalSearch end to end."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from scenesearch.client.remote import ClientError, QueryTerm, SceneSearchClient, TemporalStep
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.query.temporal_spans import StepMatch as DomainMatch
from scenesearch.server.query.temporal_spans import find_spans
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.support.synthetic import WrittenVideo, moving_square, scene_palette, write_video
from tests.test_cli import cli

TIMES = np.arange(10, dtype=np.float64)  # one sample a second, a 10 s video


def curves(*columns: dict[int, float]) -> np.ndarray:
    """(10 samples, steps) similarities: 0 except where given."""
    sims = np.zeros((10, len(columns)))
    for c, values in enumerate(columns):
        for row, value in values.items():
            sims[row, c] = value
    return sims


def spans(sims: np.ndarray, negated: tuple[bool, ...] = (), **kw: float) -> list:
    negated = negated or (False,) * sims.shape[1]
    thresholds = np.full(sims.shape[1], 0.5)
    return find_spans(sims, TIMES, 10.0, thresholds, np.asarray(negated), **kw)  # type: ignore[arg-type]


# --- the rule, on exact numbers -------------------------------------------------------------


def test_a_then_b_span_times_matches_and_mean_score() -> None:
    sims = curves({0: 0.9, 1: 0.8}, {3: 0.7, 4: 0.6})
    (span,) = spans(sims, max_gap_s=1.0)  # A ends at 2 s, B starts at 3 s: a 1 s gap
    assert (span.start_s, span.end_s) == (0.0, 5.0)
    assert span.score == pytest.approx((0.9 + 0.7) / 2)
    assert span.matches == (DomainMatch(0, 0.0, 2.0, 0.0, 0.9), DomainMatch(1, 3.0, 5.0, 3.0, 0.7))


def test_gap_limit_is_inclusive_and_unset_means_no_limit() -> None:
    sims = curves({0: 0.9, 1: 0.8}, {3: 0.7, 4: 0.6})
    assert spans(sims, max_gap_s=0.999) == []
    assert len(spans(sims, max_gap_s=1.0)) == 1
    assert len(spans(sims)) == 1  # max_gap_s defaults to infinity
    overlapping = curves({0: 0.9, 1: 0.8}, {1: 0.7, 2: 0.6})  # B starts inside A: gap 0
    (span,) = spans(overlapping, max_gap_s=0.0)
    assert (span.start_s, span.end_s) == (0.0, 3.0)


def test_order_of_steps_matters() -> None:
    sims = curves({0: 0.9, 1: 0.8}, {3: 0.7, 4: 0.6})
    assert spans(sims[:, ::-1].copy()) == []  # B then A: B never starts after an A
    same_start = curves({2: 0.9}, {2: 0.9})
    assert spans(same_start) == []  # the next step must start at a strictly later sample


def test_negated_step_inside_removes_the_span_outside_keeps_it() -> None:
    inside = curves({0: 0.9}, {4: 0.7}, {2: 0.95})
    assert spans(inside, (False, False, True)) == []
    outside = curves({0: 0.9}, {4: 0.7}, {7: 0.95})
    (span,) = spans(outside, (False, False, True))
    assert (span.start_s, span.end_s) == (0.0, 5.0)
    # Its place in the list does not matter: "not C" first means the same.
    (first,) = spans(outside[:, [2, 0, 1]].copy(), (True, False, False))
    assert first.matches[0].step == 1 and first.score == span.score


def test_negated_step_cuts_an_occurrence() -> None:
    sims = curves({0: 0.6, 1: 0.7, 2: 0.9, 3: 0.6}, {2: 0.8})
    # A without B: A's run 0-4 s is cut at the B sample (2 s) into 0-2 s and 3-4 s.
    cut = spans(sims, (False, True))
    assert [(s.start_s, s.end_s, s.score) for s in cut] == [(0.0, 2.0, 0.7), (3.0, 4.0, 0.6)]
    assert cut[0].matches[0].peak_s == 1.0


def test_best_chain_per_start_and_overlaps_suppressed() -> None:
    # Two A occurrences both reach B; the spans overlap, so only the better one stays.
    sims = curves({0: 0.6, 2: 0.9}, {4: 0.7})
    (span,) = spans(sims)
    assert (span.start_s, span.score) == (2.0, pytest.approx(0.8))
    # A chain picks the best next occurrence in reach: B at 5 (0.9) over B at 3 (0.6).
    (best,) = spans(curves({0: 0.9}, {3: 0.6, 5: 0.9}))
    assert best.matches[1].peak_s == 5.0 and best.end_s == 6.0
    # ... unless the gap rules it out.
    (near,) = spans(curves({0: 0.9}, {3: 0.6, 5: 0.9}), max_gap_s=2.0)
    assert near.matches[1].peak_s == 3.0


def test_smoothing_and_last_sample_runs_to_the_end() -> None:
    spike = curves({5: 0.9}, {9: 0.8})
    (span,) = spans(spike)
    assert span.end_s == 10.0  # the last sample stands for the time to the video's end
    assert spans(spike, smooth=3) == []  # 0.9 / 3 at 5 s and 0.8 / 2 at 9 s fall under 0.5
    # smooth=3: A = 0.6, 0.9, 0.6 at 4-6 s; B = (0.8 + 0.8) / 3 at 8 s and 0.8 at 9 s.
    (smoothed,) = spans(curves({4: 0.9, 5: 0.9, 6: 0.9}, {8: 0.8, 9: 0.8}), smooth=3)
    assert (smoothed.start_s, smoothed.end_s) == (4.0, 10.0)
    assert [(m.start_s, m.peak_s) for m in smoothed.matches] == [(4.0, 5.0), (8.0, 9.0)]
    assert smoothed.score == pytest.approx((0.9 + 0.8) / 2)


def test_three_steps_and_no_frames() -> None:
    sims = curves({0: 0.9}, {3: 0.8}, {6: 0.7})
    (span,) = spans(sims, max_gap_s=2.0)
    assert [m.peak_s for m in span.matches] == [0.0, 3.0, 6.0]
    assert span.score == pytest.approx(0.8)
    assert spans(sims, max_gap_s=1.5) == []
    empty = find_spans(np.zeros((0, 2)), np.zeros(0), 0.0, np.ones(2), np.zeros(2, bool))
    assert empty == []


# --- end to end -------------------------------------------------------------------------------

SEED = 11
SIZE = (160, 120)


def palette_video(path: Path, palettes: list[int]) -> WrittenVideo:
    """A video whose scene k shows palette `palettes[k]` for 3 s."""

    def frame(scene: int, t: float) -> np.ndarray:
        return moving_square(scene_palette(palettes[scene], *SIZE, seed=SEED), t)

    return write_video(path, [3.0] * len(palettes), size=SIZE, frame_fn=frame, fps=10.0)


@pytest.fixture(scope="module")
def temporal_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[RunningServer]:
    running = start_server(make_settings(tmp_path_factory.mktemp("tdata"), tiny_model, media_root))
    yield running
    running.stop(1.0)


@pytest.fixture(scope="module")
def library(temporal_server: RunningServer, media_root: Path) -> dict[str, object]:
    """Videos: A B C, B A, A D B; and the image of each palette (from the videos)."""
    layouts = {"abc": [0, 1, 2], "ba": [1, 0], "adb": [0, 3, 1]}
    with SceneSearchClient(f"127.0.0.1:{temporal_server.port}", timeout_s=60.0) as client:
        written = {
            n: palette_video(media_root / f"temporal_{n}.mp4", p) for n, p in layouts.items()
        }
        ids = {n: ingest(client, w.path) for n, w in written.items()}
    images = {
        "a": frame_png(written["abc"], 1.0),
        "b": frame_png(written["abc"], 4.0),
        "c": frame_png(written["abc"], 7.0),
        "d": frame_png(written["adb"], 4.0),
    }
    return {"ids": ids, "images": images, "written": written}


@pytest.fixture()
def tclient(temporal_server: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{temporal_server.port}", timeout_s=60.0) as c:
        yield c


def threshold_for(client: SceneSearchClient, video_id: int, image: bytes, start: float) -> float:
    """Midway between the image's own 3 s scene (from `start`) and the rest of the video."""
    (timeline,) = client.timeline([video_id], prompt_images=[image])
    scores = timeline.curves[0].scores
    own = [s for t, s in zip(timeline.times_s, scores, strict=True) if start <= t < start + 3]
    rest = [s for t, s in zip(timeline.times_s, scores, strict=True) if not start <= t < start + 3]
    assert min(own) > max(rest), "the palettes should be told apart by the tiny model"
    return (min(own) + max(rest)) / 2


def step(library: dict, name: str, threshold: float, negated: bool = False) -> TemporalStep:
    return TemporalStep(QueryTerm(image=library["images"][name]), threshold, negated)


@pytest.fixture(scope="module")
def thresholds(temporal_server: RunningServer, library: dict) -> dict[str, float]:
    ids = library["ids"]
    with SceneSearchClient(f"127.0.0.1:{temporal_server.port}", timeout_s=60.0) as client:
        out = {
            n: threshold_for(client, ids["abc"], library["images"][n], s)
            for n, s in (("a", 0.0), ("b", 3.0), ("c", 6.0))
        }
        out["d"] = threshold_for(client, ids["adb"], library["images"]["d"], 3.0)
    return out


def test_a_then_b_finds_the_ordered_videos(
    tclient: SceneSearchClient, library: dict, thresholds: dict[str, float]
) -> None:
    ids = library["ids"]
    result = tclient.temporal_search(
        [step(library, "a", thresholds["a"]), step(library, "b", thresholds["b"])]
    )
    found = {s.video_id: s for s in result.spans}
    assert set(found) == {ids["abc"], ids["adb"]}  # "B A" has no B after an A
    span = found[ids["abc"]]
    assert span.start_s == pytest.approx(0.0, abs=0.05)
    assert span.end_s == pytest.approx(6.0, abs=1.05)
    assert [m.step for m in span.matches] == [0, 1]
    assert 0.0 <= span.matches[0].peak_s < 3.0 <= span.matches[1].peak_s < 6.0
    assert span.score == pytest.approx(sum(m.score for m in span.matches) / 2, abs=1e-5)
    assert result.spans == sorted(result.spans, key=lambda s: -s.score)
    assert result.videos_scanned == 3 and not result.shortlisted
    assert result.model and result.model == tclient.stats().model  # which model answered


def test_step_order_and_gap_limit(
    tclient: SceneSearchClient, library: dict, thresholds: dict[str, float]
) -> None:
    ids = library["ids"]
    a, b = step(library, "a", thresholds["a"]), step(library, "b", thresholds["b"])
    (reverse,) = tclient.temporal_search([b, a]).spans
    assert reverse.video_id == ids["ba"]
    # A D B: B starts 3 s after A ends; A B C: right after it.
    tight = tclient.temporal_search([a, b], max_gap_s=1.5).spans
    assert {s.video_id for s in tight} == {ids["abc"]}
    loose = tclient.temporal_search([a, b], max_gap_s=4.0).spans
    assert {s.video_id for s in loose} == {ids["abc"], ids["adb"]}
    three = tclient.temporal_search([a, b, step(library, "c", thresholds["c"])], 1.5)
    assert [s.video_id for s in three.spans] == [ids["abc"]]


def test_negated_step_removes_a_span(
    tclient: SceneSearchClient, library: dict, thresholds: dict[str, float]
) -> None:
    ids = library["ids"]
    a, b = step(library, "a", thresholds["a"]), step(library, "b", thresholds["b"])
    without_d = tclient.temporal_search([a, b, step(library, "d", thresholds["d"], True)]).spans
    assert {s.video_id for s in without_d} == {ids["abc"]}  # D sits between A and B in "adb"
    without_c = tclient.temporal_search([a, b, step(library, "c", thresholds["c"], True)]).spans
    assert {s.video_id for s in without_c} == {ids["abc"], ids["adb"]}  # C comes after the span
    only = tclient.temporal_search([a], video_ids=[ids["ba"]]).spans
    assert len(only) == 1 and only[0].start_s == pytest.approx(3.0, abs=0.05)


def test_shortlist_reads_only_candidate_videos(
    tclient: SceneSearchClient, library: dict, thresholds: dict[str, float]
) -> None:
    a, b = step(library, "a", thresholds["a"]), step(library, "b", thresholds["b"])
    result = tclient.temporal_search([a, b], shortlist_scenes=1)
    assert result.shortlisted and result.videos_scanned <= 1
    every = tclient.temporal_search([a, b], shortlist_scenes=1, exhaustive=True)
    assert not every.shortlisted and every.videos_scanned == 3


def test_cli_when_json_and_table(
    temporal_server: RunningServer, library: dict, thresholds: dict[str, float], tmp_path: Path
) -> None:
    ids = library["ids"]
    files = {}
    for name in ("a", "b", "d"):
        files[name] = tmp_path / f"{name}.png"
        files[name].write_bytes(library["images"][name])
    args = [
        "when",
        f"image:{files['a']}::{thresholds['a']}",
        "--then",
        f"image:{files['b']}::{thresholds['b']}",
        "--without",
        f"image:{files['d']}::{thresholds['d']}",
        "--within",
        "10",
    ]
    proc = cli(temporal_server, *args, "--json")
    spans_out = json.loads(proc.stdout)["spans"]
    assert [s["video_id"] for s in spans_out] == [ids["abc"]]
    assert len(spans_out[0]["matches"]) == 2
    table = cli(temporal_server, *args).stdout
    assert "1 spans (3 videos all read, model " in table and "image a.png" in table


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no steps", grpc.StatusCode.INVALID_ARGUMENT),
        ("only negated", grpc.StatusCode.INVALID_ARGUMENT),
        ("17 steps", grpc.StatusCode.INVALID_ARGUMENT),
        ("negative gap", grpc.StatusCode.INVALID_ARGUMENT),
        ("nan threshold", grpc.StatusCode.INVALID_ARGUMENT),
        ("infinite threshold", grpc.StatusCode.INVALID_ARGUMENT),
        ("empty term", grpc.StatusCode.INVALID_ARGUMENT),
        ("unknown scene", grpc.StatusCode.NOT_FOUND),
    ],
)
def test_errors(tclient: SceneSearchClient, case: str, code: grpc.StatusCode) -> None:
    text = TemporalStep(QueryTerm(text="a door"), 0.2)
    calls = {
        "no steps": lambda: tclient.temporal_search([]),
        "only negated": lambda: tclient.temporal_search([TemporalStep(text.term, 0.2, True)]),
        "17 steps": lambda: tclient.temporal_search([text] * 17),
        "negative gap": lambda: tclient.temporal_search([text, text], max_gap_s=-1.0),
        "nan threshold": lambda: tclient.temporal_search([TemporalStep(text.term, math.nan)]),
        "infinite threshold": lambda: tclient.temporal_search([TemporalStep(text.term, math.inf)]),
        "empty term": lambda: tclient.temporal_search([TemporalStep(QueryTerm(text=" "), 0.2)]),
        "unknown scene": lambda: tclient.temporal_search(
            [TemporalStep(QueryTerm(scene_id=987654), 0.2)]
        ),
    }
    with pytest.raises(ClientError) as caught:
        calls[case]()
    assert caught.value.code == code
    assert caught.value.message
