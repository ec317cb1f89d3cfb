"""Concepts learned from feedback: the training maths on exact data, storage and versions,
then end to end through a server of its own: the proof that a concept beats its best single
example, concepts as query terms and prompts, the CLI, and the error codes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from scenesearch.client import cli
from scenesearch.client.concepts import ConceptExamples
from scenesearch.client.remote import ClientError, Hit, QueryTerm, SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.errors import FailedPrecondition, InvalidArgument, NotFound
from scenesearch.server.query.concepts import (
    MAX_EXAMPLES,
    ConceptBook,
    ConceptSpec,
    cross_validate,
    fit_logistic,
    train,
)
from scenesearch.server.storage.concepts import ConceptTable, Examples
from scenesearch.server.storage.store import Store
from scenesearch.v1 import scenesearch_pb2 as pb
from tests.conftest import make_settings
from tests.support.synthetic import Picture, WrittenVideo, write_video

# --- training maths ---------------------------------------------------------------------


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_logistic_regression_finds_the_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(200, 8)))
    y = x[:, 3] > 0.1
    w, b = fit_logistic(x, y, l2=1e-4)
    assert np.mean(((x @ w + b) > 0) == y) >= 0.97
    direction = w / np.linalg.norm(w)
    assert abs(direction[3]) > 0.9 and direction[3] > 0  # the true normal is axis 3


def test_logistic_regression_matches_a_hand_computed_optimum() -> None:
    # Two 1-d points, +1 positive and -1 negative, each weighing 0.5. By symmetry b = 0 and
    # the loss is log(1 + e^-w) + l2/2 w^2, minimal where sigmoid(-w) = l2 * w (bisection).
    x = np.asarray([[1.0], [-1.0]], dtype=np.float32)
    y = np.asarray([True, False])
    l2 = 0.05
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 1 / (1 + np.exp(mid)) > l2 * mid:
            lo = mid
        else:
            hi = mid
    w, b = fit_logistic(x, y, l2=l2)
    assert w[0] == pytest.approx(lo, rel=1e-4)
    assert b == pytest.approx(0.0, abs=1e-6)


def test_cross_validation_holds_out_whole_examples() -> None:
    # Positive examples 0-2 (one direction), negatives 3-5: a perfectly separable set
    # scores 1.0 whatever the fold; labels that are pure noise score about chance.
    rng = np.random.default_rng(1)
    pos = [_unit(rng.normal(size=(4, 6)) * 0.1 + [1, 0, 0, 0, 0, 0]) for _ in range(3)]
    neg = [_unit(rng.normal(size=(4, 6)) * 0.1 + [-1, 0, 0, 0, 0, 0]) for _ in range(3)]
    training = train(pos, neg, np.zeros((0, 6), np.float32))
    assert training.cv_folds == 3 and training.cv_accuracy == pytest.approx(1.0)
    assert training.positive_vectors == 12 and training.negative_vectors == 12
    x = _unit(rng.normal(size=(60, 6)))
    y = rng.random(60) > 0.5
    noise = cross_validate(x, y, np.arange(60), 5)
    assert 0.2 < noise < 0.8
    too_few = train(pos[:2], neg, np.zeros((0, 6), np.float32))
    assert too_few.cv_accuracy is None and too_few.cv_folds == 0


# --- storage, versions, model checks ----------------------------------------------------


def _embed_texts(texts: object) -> object:
    raise AssertionError("no texts in this test")


def test_concepts_are_stored_versioned_and_checked_against_the_model(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.bind_model("model-a", 4)
    book = ConceptBook(store, ConceptTable(store), _embed_texts, _embed_texts)  # type: ignore[arg-type]
    with store.write() as conn:  # one video, two scenes, three frames each
        conn.execute(
            "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
            "frame_count, scene_count, sample_count, ingested_at, status) "
            "VALUES (1, 'v', 'h', 6, 1, 1, 1, 6, 2, 6, 0, 'ready')"
        )
    rows = {1: [1, 0.1, 0, 0], 2: [-1, 0.1, 0, 0]}
    _insert_scenes(store, rows)
    spec = ConceptSpec("left", Examples(scene_ids=(1,)), Examples(scene_ids=(2,)))
    first = book.save(spec)
    assert (first.version, first.model, first.training.random_negatives) == (1, "model-a", 0)
    assert first.training.positive_vectors == 3 and first.training.negative_vectors == 3
    vector = book.vector("left")
    assert vector.shape == (1, 4) and vector[0, 0] > 0.99
    assert book.save(spec).version == 2
    assert [c.name for c in book.all()] == ["left"]
    assert book.get(" left ").positive.scene_ids == (1,)
    for bad in [
        ConceptSpec(" ", Examples(scene_ids=(1,)), Examples()),
        ConceptSpec("x", Examples(), Examples(scene_ids=(1,))),
        ConceptSpec("x", Examples(scene_ids=(1,) * (MAX_EXAMPLES + 1)), Examples()),
    ]:
        with pytest.raises(InvalidArgument):
            book.save(bad)
    with pytest.raises(NotFound):
        book.save(ConceptSpec("x", Examples(scene_ids=(99,)), Examples()))
    store.db.conn.execute("UPDATE concepts SET model = 'model-b'")
    with pytest.raises(FailedPrecondition, match="model-b"):
        book.vector("left")
    assert not book.usable(book.get("left"))
    assert book.delete("left") == 2
    with pytest.raises(NotFound):
        book.vector("left")


def _insert_scenes(store: Store, rows: dict[int, list[float]]) -> None:
    with store.write() as conn:
        for scene_id, vec in rows.items():
            v = np.asarray(vec, np.float32) / np.linalg.norm(vec)
            conn.execute(
                "INSERT INTO scenes (id, video_id, idx, start_s, end_s, start_frame, end_frame, "
                "vector) VALUES (?, 1, ?, 0, 3, 0, 3, ?)",
                (scene_id, scene_id - 1, v.tobytes()),
            )
            for k in range(3):
                f = v + np.float32(0.01 * k)
                f /= np.linalg.norm(f)
                conn.execute(
                    "INSERT INTO frames (video_id, scene_id, frame_no, time_s, vector) "
                    "VALUES (1, ?, ?, ?, ?)",
                    (scene_id, scene_id * 10 + k, float(k), f.astype(np.float32).tobytes()),
                )


# --- end to end: the library ------------------------------------------------------------

CLASSES, BACKGROUNDS, REPEATS = 4, 3, 5
SCENE_S, FPS, SIZE = 1.2, 15.0, (160, 120)  # 18 frames: above the 15-frame minimum scene
TARGET = 0


def _blocks(seed: int, shape: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3)).astype(int)


def _upscale(blocks: np.ndarray, width: int, height: int) -> Picture:
    rows = np.linspace(0, blocks.shape[0] - 1e-3, height).astype(int)
    cols = np.linspace(0, blocks.shape[1] - 1e-3, width).astype(int)
    return np.ascontiguousarray(np.clip(blocks[rows][:, cols], 0, 255).astype(np.uint8))


def scene_picture(kind: int, background: int, repeat: int, t: float) -> Picture:
    """Scene type `kind` = a 3x3 motif over the middle quarter of the frame; the rest is one
    of three backgrounds shared by every type (slightly varied per repeat), so one example's
    nearest neighbours are mostly other types on the same background."""
    width, height = SIZE
    noise = np.random.default_rng(repeat * 7 + background).integers(-25, 26, size=(6, 8, 3))
    image = _upscale(_blocks(1000 + background, (6, 8)) + noise, width, height).copy()
    mh, mw = height // 2, width // 2
    y0 = (height - mh) // 2 + (repeat % 3 - 1) * 6
    x0 = (width - mw) // 2 + (repeat % 2) * 8
    image[y0 : y0 + mh, x0 : x0 + mw] = _upscale(_blocks(500 + kind, (3, 3)), mw, mh)
    x = int((t / 4.0 % 1.0) * (width - 8))
    image[5:13, x : x + 8] = 255  # something moving
    return image


def _order(repeat: int) -> list[tuple[int, int]]:
    """Every (kind, background) once, the background changing at every cut."""
    rng = np.random.default_rng(repeat)
    kinds = [list(rng.permutation(CLASSES)) for _ in range(BACKGROUNDS)]
    return [(int(kinds[b][k]), b) for k in range(CLASSES) for b in range(BACKGROUNDS)]


@pytest.fixture(scope="module")
def concept_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("concept-data")
    running = start_server(make_settings(data, tiny_model, media_root))
    yield running
    running.stop(1.0)


@pytest.fixture(scope="module")
def cclient(concept_server: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{concept_server.port}", timeout_s=60.0) as c:
        yield c


Library = dict[tuple[int, int, int], int]  # (kind, background, repeat) -> scene id


@pytest.fixture(scope="module")
def library(cclient: SceneSearchClient, media_root: Path) -> Library:
    scenes: Library = {}
    for repeat in range(REPEATS):
        order = _order(repeat)

        def frame(
            scene: int, t: float, order: list[tuple[int, int]] = order, r: int = repeat
        ) -> Picture:
            return scene_picture(*order[scene], r, t)

        written: WrittenVideo = write_video(
            media_root / f"concepts_{repeat}.mp4",
            [SCENE_S] * len(order),
            fps=FPS,
            size=SIZE,
            frame_fn=frame,
        )
        video_id = cclient.ingest_path(str(written.path)).video_id
        detail = cclient.get_video(video_id)
        assert len(detail.scenes) == len(order), "every cut must be detected"
        for scene, (kind, background) in zip(detail.scenes, order, strict=True):
            scenes[(kind, background, repeat)] = scene.id
    return scenes


def _precision_at_10(hits: list[Hit], kinds: dict[int, int], marked: set[int]) -> float:
    kept = [h.scene_id for h in hits if h.scene_id not in marked][:10]
    assert len(kept) == 10
    return sum(kinds[s] == TARGET for s in kept) / 10


def test_a_concept_from_3_plus_3_examples_beats_its_best_single_example(
    cclient: SceneSearchClient, library: Library
) -> None:
    kinds = {sid: key[0] for key, sid in library.items()}
    positive = [library[(TARGET, b, 0)] for b in range(BACKGROUNDS)]
    # What a user marks as bad: other types on the same backgrounds as the positives.
    negative = [library[(TARGET + 1 + b, b, 0)] for b in range(BACKGROUNDS)]
    marked = set(positive + negative)  # neither query may score points on its own examples
    info = cclient.save_concept(
        "type-0", ConceptExamples(scene_ids=positive), ConceptExamples(scene_ids=negative)
    )
    assert info.version == 1 and info.usable and info.positive_examples == 3
    assert info.random_negatives > 0 and info.cv_folds == 3 and info.cv_accuracy is not None

    singles = [
        _precision_at_10(cclient.search_scene(s, top_k=20).hits, kinds, marked) for s in positive
    ]
    concept = _precision_at_10(
        cclient.search_terms([QueryTerm(concept="type-0")], top_k=20).hits, kinds, marked
    )
    print(
        f"\nprecision@10 over {len(library)} scenes ({CLASSES} types x {BACKGROUNDS} backgrounds"
        f" x {REPEATS} videos): concept {concept:.1f}; single examples "
        f"{', '.join(f'{p:.1f}' for p in singles)} (best {max(singles):.1f}); "
        f"cv accuracy {info.cv_accuracy:.2f}"
    )
    assert concept > max(singles)


def test_concepts_work_as_terms_and_prompts_and_have_versions(
    cclient: SceneSearchClient, library: Library
) -> None:
    positive = [library[(TARGET, b, 1)] for b in range(BACKGROUNDS)]
    info = cclient.save_concept("mixed", ConceptExamples(scene_ids=positive, texts=["a motif"]))
    assert info.positive_examples == 4 and info.negative_examples == 0
    assert cclient.save_concept("mixed", ConceptExamples(scene_ids=positive)).version == 2
    detail = cclient.get_concept("mixed")
    assert detail.info.version == 2 and detail.positive.scene_ids == positive
    assert len(detail.weights) == 64
    assert [c.name for c in cclient.list_concepts()] == sorted(["mixed", "type-0"])

    terms = [QueryTerm(concept="mixed"), QueryTerm(concept="type-0", weight=-0.5)]
    hits = cclient.search_terms(terms, top_k=5).hits
    assert len(hits) == 5 and all(len(h.term_scores) == 2 for h in hits)
    (timeline,) = cclient.timeline([1], prompts=["x"], prompt_concepts=["mixed"])
    assert [c.label for c in timeline.curves] == ["x", "mixed"]
    (summary,) = cclient.classify([1], prompt_concepts=["mixed", "type-0"])
    assert summary.labels[:2] == ["mixed", "type-0"]
    assert cclient.delete_concept("mixed") == 2
    assert [c.name for c in cclient.list_concepts()] == ["type-0"]


def test_concept_errors_have_the_right_codes(
    concept_server: RunningServer, cclient: SceneSearchClient, library: Library
) -> None:
    stub = cclient.stub
    one = pb.ConceptExamples(scene_ids=[library[(0, 0, 0)]])
    cases = [
        (stub.SaveConcept, pb.SaveConceptRequest(name="", positive=one), "INVALID_ARGUMENT"),
        (stub.SaveConcept, pb.SaveConceptRequest(name="n", negative=one), "INVALID_ARGUMENT"),
        (
            stub.SaveConcept,
            pb.SaveConceptRequest(name="n", positive=pb.ConceptExamples(scene_ids=[1] * 1001)),
            "INVALID_ARGUMENT",
        ),
        (
            stub.SaveConcept,
            pb.SaveConceptRequest(name="n", positive=pb.ConceptExamples(scene_ids=[10**9])),
            "NOT_FOUND",
        ),
        (
            stub.SaveConcept,
            pb.SaveConceptRequest(name="n", positive=pb.ConceptExamples(images=[b"junk"])),
            "INVALID_ARGUMENT",
        ),
        (stub.GetConcept, pb.GetConceptRequest(name="nope"), "NOT_FOUND"),
        (stub.DeleteConcept, pb.DeleteConceptRequest(name="nope"), "NOT_FOUND"),
        (stub.Search, pb.SearchRequest(terms=[pb.QueryTerm(concept="nope")]), "NOT_FOUND"),
    ]
    for method, request, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            method(request, timeout=30)
        assert err.value.code().name == code, request
        assert err.value.details()

    cclient.save_concept("old", ConceptExamples(scene_ids=[library[(0, 0, 0)]]))
    db = sqlite3.connect(concept_server.data_dir / "scenesearch.db")
    with db:
        db.execute("UPDATE concepts SET model = 'another/model' WHERE name = 'old'")
    db.close()
    assert not next(c for c in cclient.list_concepts() if c.name == "old").usable
    with pytest.raises(ClientError) as stale:
        cclient.search_terms([QueryTerm(concept="old")])
    assert stale.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "another/model" in stale.value.message
    with pytest.raises(ClientError) as prompt:
        cclient.timeline([1], prompt_concepts=["old"])
    assert prompt.value.code == grpc.StatusCode.FAILED_PRECONDITION
    cclient.delete_concept("old")


def test_concept_cli(
    concept_server: RunningServer,
    library: Library,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = ["--address", f"127.0.0.1:{concept_server.port}"]
    ids = [str(library[(TARGET, b, 2)]) for b in range(BACKGROUNDS)]
    bad = str(library[(1, 0, 2)])

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            cli.main([*address, "concept", *args])
        assert done.value.code == 0
        return capsys.readouterr().out

    saved = run("save", "cli-concept", "--scene", *ids, "--not-scene", bad)
    assert "cli-concept" in saved and "version 1" in saved
    assert "cli-concept" in run("list")
    assert '"positive_examples": 3' in run("show", "cli-concept", "--json")
    assert "score" in run("search", "cli-concept", "--top-k", "3")
    assert "deleted" in run("delete", "cli-concept")
