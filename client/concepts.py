"""Concepts in the typed client: save one from marked examples, list, show, delete, and
search with it. A mixin of SceneSearchClient, kept apart so remote.py stays small."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scenesearch.client.channel import Channel
from scenesearch.v1 import scenesearch_pb2 as pb


@dataclass(frozen=True, slots=True)
class ConceptExamples:
    """Marked examples: scenes of the library, images (files or bytes) and texts."""

    scene_ids: list[int] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        scene_ids: Sequence[int] = (),
        images: Sequence[Path | bytes] = (),
        texts: Sequence[str] = (),
    ) -> ConceptExamples:
        data = [i if isinstance(i, bytes) else Path(i).read_bytes() for i in images]
        return cls(list(scene_ids), data, list(texts))

    def to_proto(self) -> pb.ConceptExamples:
        return pb.ConceptExamples(scene_ids=self.scene_ids, images=self.images, texts=self.texts)

    @classmethod
    def from_proto(cls, m: pb.ConceptExamples) -> ConceptExamples:
        return cls(list(m.scene_ids), list(m.images), list(m.texts))


@dataclass(frozen=True, slots=True)
class ConceptInfo:
    name: str
    version: int
    model: str
    usable: bool  # trained with the model the server runs now
    positive_examples: int
    negative_examples: int
    positive_vectors: int
    negative_vectors: int
    random_negatives: int
    cv_accuracy: float | None  # balanced accuracy on held-out examples; None: too few
    cv_folds: int
    created_at: float

    @classmethod
    def from_proto(cls, m: pb.ConceptInfo) -> ConceptInfo:
        return cls(
            name=m.name,
            version=m.version,
            model=m.model,
            usable=m.usable,
            positive_examples=m.positive_examples,
            negative_examples=m.negative_examples,
            positive_vectors=m.positive_vectors,
            negative_vectors=m.negative_vectors,
            random_negatives=m.random_negatives,
            cv_accuracy=m.cv_accuracy if m.HasField("cv_accuracy") else None,
            cv_folds=m.cv_folds,
            created_at=m.created_at,
        )


@dataclass(frozen=True, slots=True)
class ConceptDetail:
    info: ConceptInfo
    positive: ConceptExamples
    negative: ConceptExamples
    weights: list[float]
    bias: float


class ConceptCalls(Channel):
    def save_concept(
        self,
        name: str,
        positive: ConceptExamples,
        negative: ConceptExamples | None = None,
        timeout_s: float | None = None,
    ) -> ConceptInfo:
        """Train (or retrain, one version up) the concept `name` from marked examples."""
        request = pb.SaveConceptRequest(
            name=name,
            positive=positive.to_proto(),
            negative=(negative or ConceptExamples()).to_proto(),
        )
        response = self._call(self._stub.SaveConcept, request, timeout_s)
        return ConceptInfo.from_proto(response.concept)

    def list_concepts(self) -> list[ConceptInfo]:
        response = self._call(self._stub.ListConcepts, pb.ListConceptsRequest())
        return [ConceptInfo.from_proto(c) for c in response.concepts]

    def get_concept(self, name: str) -> ConceptDetail:
        r = self._call(self._stub.GetConcept, pb.GetConceptRequest(name=name))
        return ConceptDetail(
            ConceptInfo.from_proto(r.concept),
            ConceptExamples.from_proto(r.positive),
            ConceptExamples.from_proto(r.negative),
            list(r.weights),
            r.bias,
        )

    def delete_concept(self, name: str) -> int:
        """Delete a concept; returns the version that was deleted."""
        return self._call(self._stub.DeleteConcept, pb.DeleteConceptRequest(name=name)).version
