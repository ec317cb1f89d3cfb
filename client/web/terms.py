"""Query terms in URLs: parsed, checked and turned into the client's `QueryTerm`.

A term is a kind (text, image, scene, concept), a value and a number (a weight for search,
a threshold for a temporal step). In a URL each term is a run of repeated fields, one
value per term in order (`tk=text&tv=a+dog&tw=1&tk=scene&tv=42&tw=-1`), so an HTML form
with one row per term builds it with no script, and every query is a link.

Images travel by key: the bytes are posted once to `/search/image` and kept in the web
tier's bounded in-memory cache (`images.py`); the URL names the key. Putting the image in
the URL would make links megabytes long, and re-posting it would make them unlinkable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenesearch.client.remote import QueryTerm
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.images import ImageCache

KINDS = ("text", "image", "scene", "concept")
MAX_TERMS = 16  # the server's bound on terms of a query and steps of a temporal query
MAX_WEIGHT = 100.0
MAX_TEXT = 2000
MAX_CONCEPT_NAME = 100  # the server's bound


def bad(message: str) -> WebError:
    return WebError(400, "Bad query", message)


@dataclass(frozen=True, slots=True)
class Term:
    kind: str
    value: str
    weight: float = 1.0  # for a temporal step: unused (steps carry their own threshold)

    @property
    def label(self) -> str:
        if self.kind == "text":
            return f"“{self.value}”"
        if self.kind == "image":
            return f"image {self.value[:8]}"
        return f"{self.kind} {self.value}"

    @property
    def signed_label(self) -> str:
        scale = f" x{abs(self.weight):g}" if abs(self.weight) != 1 else ""
        return ("-" if self.weight < 0 else "+") + self.label + scale

    def to_query_term(self, images: ImageCache) -> QueryTerm:
        if self.kind == "text":
            return QueryTerm(text=self.value, weight=self.weight)
        if self.kind == "scene":
            return QueryTerm(scene_id=int(self.value), weight=self.weight)
        if self.kind == "concept":
            return QueryTerm(concept=self.value, weight=self.weight)
        data = images.get(self.value)
        if not data:
            raise WebError(
                404,
                "This image query has expired",
                "The web UI keeps recent query images in memory only; pick the image again.",
            )
        return QueryTerm(image=data, weight=self.weight)


def checked_value(kind: str, raw: str, where: str) -> str:
    """The value of a term of `kind`, or 400 saying what to change."""
    value = raw.strip()
    if kind not in KINDS:
        raise bad(f"{where}: the kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "text" and len(value) > MAX_TEXT:
        raise bad(f"{where}: a text may be up to {MAX_TEXT} characters")
    if kind == "scene" and (not value.isdigit() or len(value) > 18):
        raise bad(f"{where}: a scene term needs a scene id (digits), not {value!r}")
    if kind == "image" and not (len(value) == 32 and all(c in "0123456789abcdef" for c in value)):
        raise bad(f"{where}: an image term needs the key of an uploaded image; pick it again")
    if kind == "concept" and len(value) > MAX_CONCEPT_NAME:
        raise bad(f"{where}: concept names are at most {MAX_CONCEPT_NAME} characters")
    return value


def checked_number(raw: str, name: str, default: float, lo: float, hi: float) -> float:
    if raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise bad(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise bad(f"{name} must be between {lo:g} and {hi:g}, not {raw!r}")
    return value


def rows(
    kinds: list[str], values: list[str], numbers: list[str], what: str
) -> list[tuple[int, str, str, str]]:
    """The rows of a term form: (index, kind, value, number), blank rows left out."""
    if not len(kinds) == len(values) >= len(numbers):
        raise bad(f"each {what} needs a kind and a value; the form's fields do not line up")
    numbers = numbers + [""] * (len(kinds) - len(numbers))
    return [
        (n, k, v, w)
        for n, (k, v, w) in enumerate(zip(kinds, values, numbers, strict=True))
        if v.strip()
    ]


def parse_terms(kinds: list[str], values: list[str], weights: list[str]) -> list[Term]:
    """Weighted terms from the `tk`, `tv`, `tw` fields; a blank row is no term."""
    terms = []
    for n, kind, raw, raw_weight in rows(kinds, values, weights, "term"):
        where = f"term {n + 1}"
        value = checked_value(kind, raw, where)
        weight = checked_number(raw_weight, f"{where}'s weight", 1.0, -MAX_WEIGHT, MAX_WEIGHT)
        if weight == 0:
            raise bad(
                f"{where}'s weight is 0: give a positive weight to look for it, a negative one "
                "to push results away from it, or remove the term"
            )
        terms.append(Term(kind, value, weight))
    return terms


def check_count(count: int, what: str) -> None:
    if count > MAX_TERMS:
        raise bad(f"the query has {count} {what}s; at most {MAX_TERMS} are allowed")
