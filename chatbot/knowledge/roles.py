"""Section roles: what kind of answer each section gives (symptoms, treatment, see a doctor ...).

The question side asks for roles, never for heading text, so an article with NHS-, Mayo- or
MedlinePlus-style headings is read the same way as one with its own. A role comes, in order,
from the article's front matter (`roles:`), the heading conventions in `rules/roles.yaml`, the
article's structure (a condition's opening text is its overview; a sub-section whose heading
says nothing takes its parent's role), and last the nearest role description by embedding
similarity of the section's heading and text, with a floor below which the role is "other".

    roles = RoleAssigner().assign(chunks, documents, vectors, embedder.embed)   # at index time
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import field_validator

from chatbot.errors import CorpusError
from chatbot.knowledge.chunks import PATH_SEPARATOR, Chunk
from chatbot.knowledge.corpus import Document
from chatbot.rules import RulesFile, load
from chatbot.text import heading_key, unnumbered

Source = Literal["front_matter", "heading", "structure", "similarity", "none"]
Embed = Callable[[Sequence[str]], np.ndarray]


class HeadingRule(RulesFile):
    role: str
    when: re.Pattern

    @field_validator("when", mode="before")
    @classmethod
    def _compile(cls, value: str) -> re.Pattern:
        return re.compile(value, re.I)


class RoleRulesFile(RulesFile):
    roles: tuple[str, ...]
    headings: tuple[HeadingRule, ...]
    descriptions: dict[str, str]
    similarity_floor: float


@dataclass(frozen=True)
class RoleOf:
    role: str
    source: Source
    score: float = 1.0  # similarity for roles found by similarity
    topic: str = ""  # the condition a heading names ("Treatments for X" -> "X")


def load_role_rules() -> RoleRulesFile:
    rules = load("roles.yaml", RoleRulesFile)
    unknown = {r.role for r in rules.headings} - set(rules.roles) | set(rules.descriptions) - set(rules.roles)
    if unknown:
        raise CorpusError("rules/roles.yaml", f"roles not in the vocabulary: {sorted(unknown)}")
    return rules


def role_of_heading(heading: str, rules: RoleRulesFile | None = None) -> RoleOf | None:
    """The role a heading's wording gives by the shared conventions, or None."""
    rules = rules or load_role_rules()
    key = heading_key(heading)
    for rule in rules.headings:
        match = rule.when.search(key)
        if match:
            topic = next((v for k, v in match.groupdict().items() if k.startswith("topic") and v), "")
            return RoleOf(rule.role, "heading", 1.0, topic.strip())
    return None


class RoleAssigner:
    def __init__(self, rules: RoleRulesFile | None = None) -> None:
        self.rules = rules or load_role_rules()

    def assign(
        self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray | None,
        embed: Embed | None, topic_headings: set[tuple[str, tuple[str, ...]]] = frozenset(),
    ) -> list[RoleOf]:
        """One `RoleOf` per chunk. `vectors` are the chunks' own embeddings (heading path and
        text); `topic_headings` holds (doc id, heading path) of sections that introduce a condition."""
        declared = {doc.id: _declared_roles(doc, self.rules.roles) for doc in documents}
        by_path: dict[tuple[str, tuple[str, ...]], RoleOf | None] = {}

        def of_path(doc_id: str, path: tuple[str, ...]) -> RoleOf | None:
            """The role a heading path gets from front matter, its wording, or its parents."""
            key = (doc_id, path)
            if key not in by_path:
                by_path[key] = (
                    _from_front_matter(declared[doc_id], path)
                    or (role_of_heading(path[-1], self.rules) if path else None)
                    or (None if key in topic_headings or len(path) < 2 else _inherited(of_path(doc_id, path[:-1])))
                )
            return by_path[key]

        prototypes = self._prototypes(embed) if vectors is not None and embed is not None else None
        roles = []
        for i, chunk in enumerate(chunks):
            found = of_path(chunk.doc_id, chunk.heading_path)
            if found is None and ((chunk.doc_id, chunk.heading_path) in topic_headings or not chunk.heading_path):
                found = RoleOf("overview", "structure")  # a condition's (or the article's) opening text
            if found is None and prototypes is not None:
                found = self._nearest(vectors[i], prototypes)
            roles.append(found or RoleOf("other", "none", 0.0))
        return roles

    def _prototypes(self, embed: Embed) -> tuple[list[str], np.ndarray]:
        names = list(self.rules.descriptions)
        return names, embed([self.rules.descriptions[n] for n in names])

    def _nearest(self, vector: np.ndarray, prototypes: tuple[list[str], np.ndarray]) -> RoleOf:
        names, matrix = prototypes
        scores = matrix @ vector
        best = int(np.argmax(scores))
        if float(scores[best]) < self.rules.similarity_floor:
            return RoleOf("other", "similarity", float(scores[best]))
        return RoleOf(names[best], "similarity", float(scores[best]))


def _inherited(parent: RoleOf | None) -> RoleOf | None:
    return RoleOf(parent.role, "structure", parent.score) if parent is not None else None


def _declared_roles(doc: Document, vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Front matter `roles:` {heading or heading path: role}, keys compared as heading keys."""
    declared = {}
    for heading, role in doc.roles.items():
        if role not in vocabulary:
            raise CorpusError(doc.path, f"role {role!r} for {heading!r} is not one of: {', '.join(vocabulary)}")
        declared[_path_key(heading)] = role
    return declared


def _from_front_matter(declared: dict[str, str], path: tuple[str, ...]) -> RoleOf | None:
    """A declared heading path, or a declared last heading, names this section."""
    for depth in range(len(path)):
        role = declared.get(_path_key(PATH_SEPARATOR.join(path[depth:])))
        if role:
            return RoleOf(role, "front_matter")
    return None


def _path_key(path: str) -> str:
    parts = re.split(r"\s*(?:›|>)\s*", path)
    return " > ".join(heading_key(unnumbered(p)) for p in parts if p.strip())

