"""Unanswered questions grouped by meaning, largest group first.

    groups = group_questions(unanswered, vectors)      # vectors: one unit row per question

Average-linkage agglomerative clustering on cosine distance (SciPy), cut where groups would
join questions less similar than `min_similarity` on average. Deterministic: the same
questions in the same order give the same groups. Each group names the question nearest its
centroid as its title, so a reader sees a real question, not a summary made up here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chatbot.store.records import Unanswered

DEFAULT_SIMILARITY = 0.6  # all-MiniLM-L6-v2: rewordings of one question sit above this, other questions below


@dataclass(frozen=True)
class Group:
    title: str  # the member nearest the centroid
    members: list[Unanswered]  # nearest the centroid first
    centroid: np.ndarray  # unit length
    reasons: dict[str, int]  # "out_of_scope" | "not_covered" | "rated_down" -> how many members

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.members]


def group_questions(questions: Sequence[Unanswered], vectors: np.ndarray,
                    min_similarity: float = DEFAULT_SIMILARITY) -> list[Group]:
    if len(questions) != len(vectors):
        raise ValueError(f"{len(questions)} questions but {len(vectors)} vectors")
    if not questions:
        return []
    vectors = _unit(np.asarray(vectors, np.float64))
    labels = _cluster(vectors, 1.0 - min_similarity)
    groups = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        centroid = _unit(vectors[rows].mean(axis=0, keepdims=True))[0]
        order = rows[np.argsort(-(vectors[rows] @ centroid), kind="stable")]
        members = [questions[i] for i in order]
        reasons = Counter(reason for m in members for reason in m.reasons)
        groups.append(Group(members[0].question, members, centroid.astype(np.float32), dict(reasons)))
    # Largest first; among equals the group with the newest question.
    newest = {id(g): max(m.created_at for m in g.members) for g in groups}
    groups.sort(key=lambda g: newest[id(g)], reverse=True)
    groups.sort(key=lambda g: g.size, reverse=True)
    return groups


def _cluster(vectors: np.ndarray, max_distance: float) -> np.ndarray:
    if len(vectors) == 1:
        return np.zeros(1, int)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors, "cosine"), 0.0, 2.0)
    return fcluster(linkage(distances, method="average"), t=max_distance, criterion="distance")


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
