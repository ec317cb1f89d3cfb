"""`--concept NAME` wherever the CLI takes a text: search terms (and `--not-concept`),
classify and timeline prompts, temporal steps; the real console script against a live
server, checked against the typed client's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenesearch.client.concepts import ConceptExamples
from scenesearch.client.remote import QueryTerm, SceneSearchClient, TemporalStep
from scenesearch.server.app import RunningServer
from tests.helpers import ingest
from tests.support.synthetic import write_video
from tests.test_cli import cli

NAME = "cli concept"


@pytest.fixture(scope="module")
def marked(server: RunningServer, media_root: Path) -> tuple[int, list[int]]:
    """A video of its own (unique seed) and a concept saved from its first and last scene."""
    video = write_video(media_root / "cli_concepts.mp4", [1.4, 1.6, 1.2], seed=913)
    with SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=60) as client:
        video_id = ingest(client, video.path)
        scenes = [s.id for s in client.get_video(video_id).scenes]
        client.save_concept(
            NAME, ConceptExamples(scene_ids=[scenes[0]]), ConceptExamples(scene_ids=[scenes[-1]])
        )
    return video_id, scenes


def test_search_with_a_concept_and_against_one(
    server: RunningServer, client: SceneSearchClient, marked: tuple[int, list[int]]
) -> None:
    video_id, _ = marked
    only = ["--video", str(video_id), "--json"]
    found = json.loads(cli(server, "search", "--concept", NAME, *only).stdout)["hits"]
    want = client.search_terms([QueryTerm(concept=NAME)], video_ids=[video_id]).hits
    assert found and [h["scene_id"] for h in found] == [h.scene_id for h in want]
    assert [h["score"] for h in found] == pytest.approx([h.score for h in want], abs=1e-6)

    args = ["search", "coloured blocks", "--not-concept", NAME, "--weight", "0.5", *only]
    pushed = json.loads(cli(server, *args).stdout)["hits"]
    want = client.search_terms(
        [QueryTerm(text="coloured blocks"), QueryTerm(concept=NAME, weight=-0.5)],
        video_ids=[video_id],
    ).hits
    assert [h["scene_id"] for h in pushed] == [h.scene_id for h in want]
    assert all(len(h["term_scores"]) == 2 for h in pushed)
    table = cli(
        server, "search", "coloured blocks", "--not-concept", NAME, "--video", str(video_id)
    )
    assert f"-concept {NAME} x1" not in table.stdout and f"-concept {NAME}" in table.stdout


def test_classify_and_timeline_take_a_concept_as_a_prompt(
    server: RunningServer, client: SceneSearchClient, marked: tuple[int, list[int]]
) -> None:
    video_id = str(marked[0])
    classified = json.loads(
        cli(
            server, "classify", video_id, "--prompt", "a square", "--concept", NAME, "--json"
        ).stdout
    )
    assert [p["label"] for p in classified[0]["prompts"]] == ["a square", NAME]
    curves = json.loads(cli(server, "timeline", video_id, "--concept", NAME, "--json").stdout)
    (curve,) = curves[0]["curves"]
    direct = client.timeline([int(video_id)], prompt_concepts=[NAME])[0].curves[0]
    assert curve["label"] == NAME and curve["scores"] == pytest.approx(direct.scores, abs=1e-6)


def test_when_takes_a_concept_step(
    server: RunningServer, client: SceneSearchClient, marked: tuple[int, list[int]]
) -> None:
    video_id, scenes = marked
    step = f"concept:{NAME}::-1"  # at -1 it occurs on every sample: one span, the whole video
    spans = json.loads(
        cli(
            server,
            "when",
            step,
            "--then",
            f"scene:{scenes[-1]}::0.999",
            "--video",
            str(video_id),
            "--json",
        ).stdout
    )["spans"]
    want = client.temporal_search(
        [
            TemporalStep(QueryTerm(concept=NAME), -1.0),
            TemporalStep(QueryTerm(scene_id=scenes[-1]), 0.999),
        ],
        video_ids=[video_id],
    ).spans
    assert len(spans) == len(want) == 1
    assert spans[0]["start_s"] == pytest.approx(want[0].start_s)
    assert [m["step"] for m in spans[0]["matches"]] == [0, 1]


def test_unknown_or_empty_concepts_fail_with_a_message(
    server: RunningServer, marked: tuple[int, list[int]]
) -> None:
    missing = cli(server, "search", "--concept", "no such concept", ok=False)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    assert "no such concept" in missing.stderr
    prompt = cli(server, "timeline", str(marked[0]), "--concept", "nope", ok=False)
    assert prompt.returncode == 1 and "NOT_FOUND" in prompt.stderr
    empty = cli(server, "when", "concept:", ok=False)
    assert empty.returncode == 2 and "names no concept" in empty.stderr
    assert "--not-concept" in cli(server, "search", "--help").stdout
