"""Concepts learned from feedback: a logistic regression on stored frame vectors.

Training rows: every stored frame of each marked scene, plus one row per example image or
text (embedded with the server's model). When the marked negatives give fewer than
`min_negatives(positive rows)` rows, random library frames (none from a marked scene) fill
the gap: "not this" is then "the library at large".

The model: p(concept | x) = sigmoid(w . x + b), fitted by Newton's method on the
class-balanced log loss with an L2 penalty `L2` on w (not b). Each class weighs half of the
loss, so a few positives are not drowned by many negatives. It is a few lines of numpy,
chosen over scikit-learn because scikit-learn (with scipy and joblib) would be a new heavy
server dependency for ~20 lines, and Newton on a ridge-regularised problem of at most a few
thousand rows x dim is exact, deterministic and fast (milliseconds).

As a query, a concept is the unit vector w / |w|: for unit vectors x, ranking by w . x + b is
ranking by cos(w / |w|, x), so the index does the work and scores stay cosines.

Cross-validation: with at least `MIN_CV_EXAMPLES` marked positive examples, k-fold over
EXAMPLES (all frames of one scene stay in one fold; random negatives are spread over the
folds), k = min(5, positive examples). Reported as balanced accuracy (mean of the accuracy on
positives and on negatives), so an all-negative guess scores 0.5, not 0.9.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors
from scenesearch.server.embedder import TextEmbedding
from scenesearch.server.errors import FailedPrecondition, InvalidArgument
from scenesearch.server.storage.concepts import Concept, ConceptTable, Examples, Training
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise

MAX_EXAMPLES = 1000  # marked examples per concept, both sides together
MAX_NAME_CHARS = 100
MIN_CV_EXAMPLES = 3
MAX_FOLDS = 5
L2 = 1e-3
NEWTON_STEPS = 50


def min_negatives(positive_rows: int) -> int:
    """Negative rows wanted for training: random library frames fill up to this."""
    return max(64, 4 * positive_rows)


@dataclass(frozen=True, slots=True)
class ConceptSpec:
    name: str
    positive: Examples
    negative: Examples


def fit_logistic(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.bool_], l2: float = L2
) -> tuple[npt.NDArray[np.float32], float]:
    """(w, b) minimising the class-balanced log loss + l2/2 |w|^2, by Newton's method."""
    n, dim = x.shape
    xb = np.hstack([x.astype(np.float64), np.ones((n, 1))])
    pos = y.astype(bool)
    weight = np.where(pos, 0.5 / max(pos.sum(), 1), 0.5 / max((~pos).sum(), 1))
    target = pos.astype(np.float64)
    ridge = np.full(dim + 1, l2)
    ridge[-1] = 1e-9  # the bias is not penalised (a tiny term keeps the Hessian invertible)
    theta = np.zeros(dim + 1)
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -30, 30)))
        grad = xb.T @ (weight * (p - target)) + ridge * theta
        hess = (xb * (weight * p * (1 - p))[:, None]).T @ xb + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return theta[:-1].astype(np.float32), float(theta[-1])


def cross_validate(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.int64],
    folds: int,
) -> float:
    """Balanced accuracy over held-out groups; fold of a group = its rank mod `folds`, by
    class, so every fold holds positives and negatives."""
    fold_of = np.zeros(len(y), dtype=np.int64)
    for cls in (True, False):
        ids = np.unique(groups[y == cls])
        for rank, g in enumerate(ids.tolist()):
            fold_of[groups == g] = rank % folds
    correct = np.zeros(len(y), dtype=bool)
    for k in range(folds):
        test = fold_of == k
        w, b = fit_logistic(x[~test], y[~test])
        correct[test] = ((x[test] @ w + b) > 0) == y[test]
    return float((correct[y].mean() + correct[~y].mean()) / 2)


def train(
    positive: Sequence[Vectors],
    negative: Sequence[Vectors],
    random_negatives: Vectors,
) -> Training:
    """One (rows, dim) matrix per marked example on each side, plus random negative rows."""
    parts = [*positive, *negative, random_negatives]
    x = np.concatenate(parts).astype(np.float32)
    y = np.concatenate([np.full(len(p), i < len(positive)) for i, p in enumerate(parts)])
    groups = np.concatenate(
        [np.full(len(p), g, np.int64) for g, p in enumerate(parts[:-1])]
        + [np.arange(len(random_negatives), dtype=np.int64) + len(parts)]
    )
    if y.all():
        raise FailedPrecondition(
            "there is nothing to contrast the positive examples with: mark negative examples "
            "or ingest more videos"
        )
    w, b = fit_logistic(x, y)
    negative_groups = len(negative) + len(random_negatives)
    accuracy, folds = None, 0
    if len(positive) >= MIN_CV_EXAMPLES and negative_groups >= MIN_CV_EXAMPLES:
        folds = min(MAX_FOLDS, len(positive))
        accuracy = cross_validate(x, y, groups, folds)
    return Training(
        weights=w,
        bias=b,
        positive_vectors=int(y.sum()),
        negative_vectors=int((~y).sum()),
        random_negatives=len(random_negatives),
        cv_accuracy=accuracy,
        cv_folds=folds,
    )


class ConceptBook:
    """Save, read and resolve concepts; the model id is checked on every use."""

    def __init__(
        self,
        store: Store,
        table: ConceptTable,
        embed_texts: Callable[[Sequence[str]], TextEmbedding],
        embed_image: Callable[[bytes], Vectors],
    ) -> None:
        self._store, self._table = store, table
        self._embed_texts, self._embed_image = embed_texts, embed_image

    @property
    def model(self) -> str:
        return self._store.meta("model") or ""

    def save(self, spec: ConceptSpec) -> Concept:
        name = check_name(spec.name)
        if not len(spec.positive):
            raise InvalidArgument(
                f"concept {name!r} has no positive example; mark at least one scene, image or "
                "text that shows it"
            )
        total = len(spec.positive) + len(spec.negative)
        if total > MAX_EXAMPLES:
            raise InvalidArgument(
                f"concept {name!r} has {total} examples; at most {MAX_EXAMPLES} are allowed"
            )
        positive = self._vectors(spec.positive)
        negative = self._vectors(spec.negative)
        rows = sum(len(p) for p in positive)
        missing = min_negatives(rows) - sum(len(n) for n in negative)
        seed = zlib.crc32(name.encode())
        marked = spec.positive.scene_ids + spec.negative.scene_ids
        extra = self._table.random_frames(missing, marked, seed)
        training = train(positive, negative, extra)
        return self._table.save(name, self.model, training, spec.positive, spec.negative)

    def get(self, name: str) -> Concept:
        return self._table.get(check_name(name))

    def all(self) -> list[Concept]:
        return self._table.all()

    def delete(self, name: str) -> int:
        return self._table.delete(check_name(name))

    def usable(self, concept: Concept) -> bool:
        return concept.model == self.model and len(concept.training.weights) == self._store.dim

    def vector(self, name: str) -> Vectors:
        """The (1, dim) query vector of a concept: w / |w|."""
        concept = self.get(name)
        if not self.usable(concept):
            raise FailedPrecondition(
                f"concept {concept.name!r} was trained with model {concept.model!r}, but this "
                f"data dir uses {self.model!r}; save it again from its examples"
            )
        weights = concept.training.weights
        if not np.linalg.norm(weights) > 0:
            raise FailedPrecondition(f"concept {concept.name!r} has zero weights; save it again")
        return normalise(weights[None, :].astype(np.float32))

    def _vectors(self, examples: Examples) -> list[Vectors]:
        """One matrix per example: a scene's stored frames, an image's or a text's vector."""
        out: list[Vectors] = []
        if examples.scene_ids:
            frames = self._store.frames_of_scenes(list(examples.scene_ids), ordered=False)
            for scene_id in examples.scene_ids:
                rows = frames.vectors[frames.scene_ids == scene_id]
                if not len(rows):
                    self._store.scene_vector(scene_id)  # NotFound for an unknown scene
                    raise FailedPrecondition(f"scene {scene_id} has no stored frames")
                out.append(rows)
        out.extend(self._embed_image(image) for image in examples.images)
        texts = [t.strip() for t in examples.texts]
        if any(not t for t in texts):
            raise InvalidArgument("an example text is empty; give it words or drop it")
        if texts:
            out.extend(v[None, :] for v in self._embed_texts(texts).vectors)
        return out


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument("the concept name is empty; give it a name such as 'sunset'")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"concept names are at most {MAX_NAME_CHARS} characters")
    return name
