"""Composite, temporal and concept queries through the web tier (Starlette's TestClient)
against a real gRPC server: each page, its JSON twin, the same answer as the typed client,
and every bad input as a 4xx with a message a person can act on."""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from scenesearch.client.remote import QueryTerm, SceneSearchClient, TemporalStep
from tests.helpers import frame_png
from tests.support.synthetic import WrittenVideo
from tests.support.web import WebStack

JSON = {"Accept": "application/json"}


@pytest.fixture()
def client(stack: WebStack) -> SceneSearchClient:
    return SceneSearchClient(f"127.0.0.1:{stack.server.port}", timeout_s=60)


@pytest.fixture()
def scenes(client: SceneSearchClient, video_id: int) -> list[int]:
    return [s.id for s in client.get_video(video_id).scenes]


# --- composite search -------------------------------------------------------------------


def test_composite_query_matches_the_client_and_shows_per_term_scores(
    web: TestClient, client: SceneSearchClient, scenes: list[int]
) -> None:
    url = f"/search.json?q=coloured+blocks&tk=scene&tv={scenes[2]}&tw=-1&tk=text&tv=a+cat&tw=0.5"
    body = web.get(url).json()
    assert [(t["kind"], t["weight"]) for t in body["terms"]] == [
        ("text", 1.0),
        ("scene", -1.0),
        ("text", 0.5),
    ]
    expected = client.search_terms(
        [
            QueryTerm(text="coloured blocks"),
            QueryTerm(scene_id=scenes[2], weight=-1.0),
            QueryTerm(text="a cat", weight=0.5),
        ]
    )
    hits = body["results"]["hits"]
    assert [h["scene_id"] for h in hits] == [h.scene_id for h in expected.hits]
    for got, want in zip(hits, expected.hits, strict=True):
        assert got["score"] == pytest.approx(want.score, abs=1e-6)
        assert got["term_scores"] == pytest.approx(want.term_scores, abs=1e-6)
        assert len(got["term_scores"]) == 3
    assert hits

    page = web.get(url.replace("/search.json", "/"))
    assert page.status_code == 200
    html = page.text
    assert html.count('class="card"') == len(hits)
    assert html.count('class="term-scores"') == len(hits)
    assert f"-scene {scenes[2]}" in html and "+“a cat” x0.5" in html  # chips and scores
    assert 'name="good"' in html and 'form="concept-form"' in html


def test_more_and_not_like_this_add_scene_terms_to_the_url(
    web: TestClient, scenes: list[int]
) -> None:
    html = web.get("/?q=coloured+blocks").text
    more = f"/?q=coloured+blocks&amp;tk=scene&amp;tv={scenes[1]}&amp;tw=1"
    less = f"/?q=coloured+blocks&amp;tk=scene&amp;tv={scenes[1]}&amp;tw=-1"
    assert more in html and less in html
    # A term's "remove" link gives the query without it.
    two = web.get(f"/?q=coloured+blocks&tk=scene&tv={scenes[1]}&tw=-1").text
    assert 'href="/?tk=scene&amp;tv=' in two  # the text removed, the scene kept
    assert 'href="/?q=coloured+blocks"' in two  # the scene removed


def test_an_image_joins_the_current_query_by_key(
    web: TestClient, three_scenes: WrittenVideo, scenes: list[int]
) -> None:
    png = frame_png(three_scenes, 4.5)
    posted = web.post(
        "/search/image",
        data={"add": "not", "query": "q=coloured+blocks&top_k=3"},
        files={"image": ("q.png", png, "image/png")},
    )
    assert posted.status_code == 303
    target = posted.headers["location"]
    fields = parse_qsl(urlsplit(target).query)
    assert fields[:2] == [("q", "coloured blocks"), ("top_k", "3")]
    assert [k for k, _ in fields[2:]] == ["tk", "tv", "tw"] and fields[-1] == ("tw", "-1")
    body = web.get("/search.json?" + urlsplit(target).query).json()
    hits = body["results"]["hits"]
    assert len(hits) == 3 and all(len(h["term_scores"]) == 2 for h in hits)
    # The frame at 4.5 s is scene 3's: pushed away from it, that scene ranks last.
    assert hits[-1]["scene_id"] == scenes[2]
    assert "/search/image/" in web.get(target).text  # the image is shown in its term row
    bad = web.post("/search/image", data={"add": "sideways"}, files={"image": ("q.png", png)})
    assert bad.status_code == 400 and "add must be one of" in bad.text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("tk=text&tv=a+dog&tw=0", "weight is 0"),
        ("tk=text&tv=a+dog&tw=heavy", "must be a number"),
        ("tk=text&tv=a+dog&tw=1e9", "between -100 and 100"),
        ("tk=video&tv=3", "the kind must be one of"),
        ("tk=scene&tv=third", "needs a scene id"),
        ("tk=image&tv=../../etc/passwd", "key of an uploaded image"),
        ("tk=text&tk=text&tv=a+dog", "do not line up"),
        ("q=a&" + "&".join(["tk=text&tv=b&tw=1"] * 16), "at most 16"),
        ("q=a+dog&tw=-1&tk=text&tv=x&tw=-1", "do not line up"),
        ("tk=text&tv=a+dog&tw=-1", "only negative terms"),  # the server's INVALID_ARGUMENT
    ],
)
def test_bad_composite_queries_are_400_with_a_message(
    web: TestClient, video_id: int, query: str, says: str
) -> None:
    twin = web.get("/search.json?" + query)
    assert twin.status_code == 400, twin.text
    assert says in twin.json()["message"]
    page = web.get("/?" + query)
    assert page.status_code == 400 and says in unescape(page.text)


def test_an_unknown_concept_term_is_not_found(web: TestClient, video_id: int) -> None:
    response = web.get("/search.json?tk=concept&tv=no+such+thing")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert "no such thing" in response.json()["message"]


# --- concepts ---------------------------------------------------------------------------


def test_save_show_use_and_delete_a_concept(
    web: TestClient, client: SceneSearchClient, video_id: int, scenes: list[int]
) -> None:
    saved = web.post(
        "/concepts", data={"name": "blue scene", "good": [scenes[0]], "bad": [scenes[2]]}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/concept?name=blue+scene&saved=1"
    page = web.get(saved.headers["location"])
    assert page.status_code == 200 and "Saved concept “blue scene”, version 1" in page.text
    assert f"/scenes/{scenes[0]}/thumbnail.jpg" in page.text
    shown = web.get("/concept.json?name=blue+scene").json()
    assert shown["concept"]["version"] == 1 and shown["positive"]["scene_ids"] == [scenes[0]]
    assert shown["negative"]["scene_ids"] == [scenes[2]] and shown["dimension"] > 0
    again = web.post("/concepts", data={"name": "blue scene", "good": scenes[:2]}, headers=JSON)
    assert again.status_code == 200 and again.json()["version"] == 2
    listed = web.get("/concepts.json").json()
    assert [(c["name"], c["version"]) for c in listed] == [("blue scene", 2)]
    listing = web.get("/concepts").text
    assert 'data-concept="blue scene"' in listing and "/?tk=concept&amp;tv=blue+scene" in listing

    # A query term on the search page, the same ranking as the client's.
    found = web.get("/search.json?tk=concept&tv=blue+scene&tw=1").json()["results"]["hits"]
    want = client.search_terms([QueryTerm(concept="blue scene")]).hits
    assert [h["scene_id"] for h in found] == [h.scene_id for h in want]
    assert "<option>blue scene</option>" in web.get("/").text  # offered as a term

    # A prompt of the video page's timeline and classify.
    assert "<option>blue scene</option>" in web.get(f"/videos/{video_id}").text
    timeline = web.post(
        f"/api/videos/{video_id}/timeline", data={"prompts": "a square", "concepts": "blue scene"}
    ).json()
    assert [c["label"] for c in timeline["curves"]] == ["a square", "blue scene"]
    direct = client.timeline([video_id], ["a square"], prompt_concepts=["blue scene"])[0]
    assert timeline["curves"][1]["scores"] == pytest.approx(direct.curves[1].scores, abs=1e-6)
    classified = web.post(
        f"/api/videos/{video_id}/classify", data={"concepts": "blue scene", "interval": "1"}
    ).json()
    assert classified["labels"] == ["blue scene"] and classified["intervals"]

    # Delete: a form without confirm asks first; with it, deletes; then 404 everywhere.
    ask = web.post("/concept/delete", data={"name": "blue scene"})
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    gone = web.post("/concept/delete", data={"name": "blue scene", "confirm": "yes"})
    assert gone.status_code == 303 and gone.headers["location"] == "/concepts?deleted=blue+scene"
    assert "Concept “blue scene” was deleted" in web.get(gone.headers["location"]).text
    assert web.get("/concept?name=blue+scene").status_code == 404
    assert web.delete("/api/concept?name=blue+scene").status_code == 404


def test_concept_api_delete_and_names_with_any_character(
    web: TestClient, scenes: list[int]
) -> None:
    name = "a/b & c?d"
    saved = web.post("/concepts", data={"name": name, "good": [scenes[1]]}, headers=JSON)
    assert saved.status_code == 200 and saved.json()["name"] == name
    assert web.get("/concept.json", params={"name": name}).json()["concept"]["name"] == name
    deleted = web.delete("/api/concept", params={"name": name})
    assert deleted.json() == {"name": name, "version": 1}


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"good": ["1"]}, 400, "Give the concept a name"),
        ({"name": "x" * 101, "good": ["1"]}, 400, "at most 100 characters"),
        ({"name": "x"}, 400, "Tick 'good' on at least one result"),
        ({"name": "x", "good": ["1"], "bad": ["1"]}, 400, "marked both good and bad"),
        ({"name": "x", "good": ["one"]}, 400, "must be a scene id"),
        ({"name": "x", "good": ["999999"]}, 404, "999999"),  # the server's NOT_FOUND
    ],
)
def test_bad_concept_saves_say_what_to_change(
    web: TestClient, video_id: int, form: dict[str, object], status: int, says: str
) -> None:
    response = web.post("/concepts", data=form, headers=JSON)
    assert response.status_code == status, response.text
    assert says in response.json()["message"]
    page = web.post("/concepts", data=form)
    assert page.status_code == status and says in unescape(page.text)


def test_concept_pages_refuse_bad_names(web: TestClient) -> None:
    assert web.get("/concept").status_code == 400
    assert web.get("/concept.json?name=nothing+here").status_code == 404
    assert web.post("/concept/delete", data={"name": ""}).status_code == 400
    prompt = web.post("/api/videos/1/timeline", data={"concepts": "c" * 101})
    assert prompt.status_code == 400 and "at most 100" in prompt.json()["message"]


# --- temporal ---------------------------------------------------------------------------


def test_temporal_spans_match_the_client_and_link_to_the_player(
    web: TestClient, client: SceneSearchClient, video_id: int, scenes: list[int]
) -> None:
    # A scene step at 0.999 occurs on that scene's samples only (with the tiny model, every
    # frame is above 0.99 to every scene): scene 1 [0, 2), then scene 3 [3.5, 6) 1.5 s later.
    query = f"sk=scene&sv={scenes[0]}&sr=then&sk=scene&sv={scenes[2]}&sr=then&threshold=0.999"
    body = web.get(f"/when.json?{query}&within=2").json()
    spans = body["results"]["spans"]
    want = client.temporal_search(
        [
            TemporalStep(QueryTerm(scene_id=scenes[0]), 0.999),
            TemporalStep(QueryTerm(scene_id=scenes[2]), 0.999),
        ],
        2.0,
    )
    assert len(spans) == len(want.spans) == 1
    (span,) = spans
    assert (span["video_id"], span["start_s"], span["end_s"]) == (video_id, 0.0, 6.0)
    assert span["score"] == pytest.approx(want.spans[0].score)
    assert [(m["step"], m["start_s"]) for m in span["matches"]] == [(0, 0.0), (1, 3.5)]
    assert body["query"]["within_s"] == 2.0 and body["query"]["threshold"] == 0.999

    html = web.get(f"/when?{query}&within=2").text
    assert 'class="card span-card"' in html and f'href="/videos/{video_id}?t=0.000"' in html
    assert f'href="/videos/{video_id}?t=3.500"' in html  # the second step's match
    assert f"/scenes/{scenes[0]}/thumbnail.jpg" in html
    assert f"/videos/{video_id}/clip?start=0.000&amp;end=6.000" in html

    # 1.5 s apart: not within 1 s. A "not" step on the middle scene cuts the span too.
    assert web.get(f"/when.json?{query}&within=1").json()["results"]["spans"] == []
    cut = f"{query}&sk=scene&sv={scenes[1]}&sr=not"
    assert web.get(f"/when.json?{cut}").json()["results"]["spans"] == []
    assert "No span matched" in web.get(f"/when?{cut}").text
    # A step's own threshold overrides the page's: at 0.9 the first step lasts the whole
    # video, so the second one overlaps it (gap 0) and even 1 s is enough.
    loose = web.get(f"/when.json?{query}&within=1&st=0.9&st=").json()["results"]["spans"]
    assert [m["end_s"] for m in loose[0]["matches"]] == [6.0, 6.0]


def test_the_empty_temporal_page_is_a_form(web: TestClient) -> None:
    page = web.get("/when")
    assert page.status_code == 200 and 'name="sv"' in page.text and "span-card" not in page.text
    assert web.get("/when.json").json()["results"] is None


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("sk=text&sv=a&sr=not", "every step is a 'not' step"),
        ("sk=text&sv=a&sr=maybe", "the role must be"),
        ("sk=text&sv=a&st=2", "between -1 and 1"),
        ("sk=text&sv=a&within=-1", "within must be between"),
        ("sk=text&sv=a&within=soon", "within must be a number"),
        ("sk=scene&sv=x", "needs a scene id"),
        ("&".join(["sk=text&sv=a"] * 17), "at most 16"),
        ("sk=concept&sv=nope", "nope"),  # the server's NOT_FOUND: 404
    ],
)
def test_bad_temporal_queries_say_what_to_change(
    web: TestClient, video_id: int, query: str, says: str
) -> None:
    response = web.get("/when.json?" + query)
    assert response.status_code in (400, 404), response.text
    assert response.status_code == (404 if "concept" in query else 400)
    assert says in response.json()["message"]
    page = web.get("/when?" + query)
    assert page.status_code == response.status_code and says in unescape(page.text)


def test_an_image_step_joins_the_temporal_query(
    web: TestClient, three_scenes: WrittenVideo, scenes: list[int]
) -> None:
    page = web.get(f"/when?sk=scene&sv={scenes[0]}&threshold=0.999&within=2").text
    here = unescape(page.split('name="query" value="', 1)[1].split('"', 1)[0])
    assert here == f"sk=scene&sv={scenes[0]}&sr=then&st=&within=2&threshold=0.999"
    posted = web.post(
        "/search/image",
        data={"add": "not-step", "query": here},
        files={"image": ("q.png", frame_png(three_scenes, 2.5), "image/png")},
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/when?")
    query = posted.headers["location"].split("?", 1)[1]
    body = web.get("/when.json?" + query).json()
    steps = body["query"]["steps"]
    assert [(s["term"]["kind"], s["negated"]) for s in steps] == [("scene", False), ("image", True)]
    # The middle scene's frame, as a "not" step at 0.999, occurs only there: scene 1 alone
    # still spans [0, 2).
    (span,) = body["results"]["spans"]
    assert (span["start_s"], span["end_s"]) == (0.0, 2.0)
    assert "/search/image/" in web.get("/when?" + query).text
