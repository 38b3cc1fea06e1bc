"""Topics: the conditions the articles cover, and the names people use for them.

Found at index time from any article's structure (see rules/topics.yaml): front matter
`topics:`, sections whose sub-sections repeat the kinds of answer of their siblings' (every
cause has "what it is", "symptoms", "why it hurts", whatever the headings say), numbered
sibling headings, or the title of an article about one thing. Stored in the index manifest;
`Topics` finds them in text at run time.

    found = find_topics(documents, chunks, glossary, everyday_words)   # index time
    topics = Topics(found, glossary)                                   # run time
    topics.mentioned("is it a heel spur?")  -> [Topic("Heel Spur", ...)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import Stemmer

from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.corpus import Document
from chatbot.knowledge.glossary import Glossary
from chatbot.knowledge.roles import RoleRulesFile, load_role_rules, role_of_heading
from chatbot.rules import RulesFile, load
from chatbot.text import heading_name, straight_quotes, words

_NUMBERED = re.compile(r"^\s*\d+[.)]\s")
_stemmer = Stemmer.Stemmer("english")


def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


class TopicRulesFile(RulesFile):
    class_words: frozenset[str]
    function_words: frozenset[str]
    leading_articles: tuple[str, ...]
    max_title_words: int


@dataclass(frozen=True)
class Topic:
    name: str  # as the article heads it, without list number or note: "Heel Spur"
    aliases: tuple[str, ...]  # lowercase phrases that name it: "heel spur", an abbreviation, ...
    doc_id: str = ""
    path: tuple[str, ...] = ()  # the heading path of the section it heads; () for a whole article

    def to_dict(self) -> dict:
        return {**asdict(self), "aliases": list(self.aliases), "path": list(self.path)}

    @classmethod
    def from_dict(cls, data: dict) -> Topic:
        return cls(data["name"], tuple(data["aliases"]), data.get("doc_id", ""), tuple(data.get("path", ())))

    def heads(self, chunk: Chunk) -> bool:
        """Whether the chunk is in this topic's own part of its article."""
        return chunk.doc_id == self.doc_id and chunk.heading_path[: len(self.path)] == self.path


def find_topics(
    documents: list[Document], chunks: list[Chunk], glossary: Glossary, everyday_words: Iterable[str] = (),
) -> list[Topic]:
    rules, role_rules = load("topics.yaml", TopicRulesFile), load_role_rules()
    named: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []  # (name, doc id, path, declared aliases)
    by_article: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_article.setdefault(chunk.doc_id, []).append(chunk)
    for doc in documents:
        paths = _section_paths(by_article.get(doc.id, []))
        declared = _declared(doc)
        found = [(name, doc.id, path, ()) for name, path in _structural(paths, role_rules, rules)]
        for name, aliases in declared.items():
            path = next((p for n, _, p, _ in found if n.lower() == name.lower()), ())
            found = [f for f in found if f[0].lower() != name.lower()] + [(name, doc.id, path, aliases)]
        if not found and _is_name(doc.title, rules):
            found = [(_strip_articles(heading_name(doc.title), rules), doc.id, (), ())]
        named += found
    return _with_aliases(named, glossary, rules, set(everyday_words))


def _section_paths(chunks: list[Chunk]) -> list[tuple[str, ...]]:
    """Every heading path, parents included, in article order."""
    paths = [c.heading_path[:depth] for c in chunks for depth in range(1, len(c.heading_path) + 1)]
    return list(dict.fromkeys(paths))


def _structural(
    paths: list[tuple[str, ...]], role_rules: RoleRulesFile, rules: TopicRulesFile,
) -> list[tuple[str, tuple[str, ...]]]:
    """(name, path) of sections that head a condition, in article order of their paths."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for path in paths:
        children.setdefault(path[:-1], []).append(path)
    kinds = {path: _kinds(children.get(path, []), role_rules) for path in paths}
    topics = []
    for siblings in children.values():
        numbered = sum(1 for p in siblings if _NUMBERED.match(p[-1])) >= 2
        for path in siblings:
            own = role_of_heading(path[-1], role_rules)
            if own is not None and not own.topic:
                continue  # "Symptoms", "Diagnosis": a kind of answer, not a condition
            repeats = bool(kinds[path]) and any(
                len(kinds[path] & kinds[other]) >= min(2, len(kinds[path])) for other in siblings if other != path
            )
            if repeats or (numbered and _NUMBERED.match(path[-1])):
                name = _as_written(own.topic, path[-1]) if own is not None else heading_name(path[-1])
                topics.append((_strip_articles(name, rules), path))
    return sorted(topics, key=lambda t: paths.index(t[1]))


def _as_written(words_found: str, heading: str) -> str:
    """The words a heading pattern captured, as the heading writes them (capitals, hyphens)."""
    pattern = r"\W+".join(map(re.escape, words_found.split()))
    match = re.search(pattern, straight_quotes(heading), re.I)
    return match.group(0) if match else words_found


def _kinds(children: list[tuple[str, ...]], role_rules: RoleRulesFile) -> set[str]:
    """The kinds of answer a section's sub-sections give: their roles, else their headings."""
    kinds = set()
    for child in children:
        role = role_of_heading(child[-1], role_rules)
        kinds.add(role.role if role is not None else " ".join(words(heading_name(child[-1]))))
    return kinds


def _declared(doc: Document) -> dict[str, tuple[str, ...]]:
    return {name: tuple(a.lower() for a in aliases) for name, aliases in doc.topics.items()}


def _is_name(title: str, rules: TopicRulesFile) -> bool:
    return "?" not in title and len(title.split()) <= rules.max_title_words


def _strip_articles(name: str, rules: TopicRulesFile) -> str:
    parts = name.strip().rstrip("?").split()
    while len(parts) > 1 and parts[0].lower() in rules.leading_articles:
        parts = parts[1:]
    return " ".join(parts)


def _with_aliases(
    named: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]], glossary: Glossary, rules: TopicRulesFile,
    everyday: set[str],
) -> list[Topic]:
    # The same condition in two articles is one name: aliases are worked out once per name.
    names = list(dict.fromkeys(" ".join(words(n)) for n, *_ in named))
    word_counts: dict[str, int] = {}
    for name in names:
        for w in set(name.split()):
            word_counts[w] = word_counts.get(w, 0) + 1
    shared: dict[str, set[str]] = {}
    for name in names:
        ws = name.split()
        others = [n for n in names if n != name]
        aliases = {name}
        phrases = {" ".join(ws[i:j]): set(ws[i:j]) for i in range(len(ws)) for j in range(i + 2, len(ws) + 1)}
        aliases |= {
            phrase for phrase, parts in phrases.items()
            if not any(phrase in other for other in others) and not parts <= rules.class_words
            and phrase.split()[0] not in rules.function_words and phrase.split()[-1] not in rules.function_words
        }
        aliases |= {
            w for w in ws if len(w) >= 5 and word_counts[w] == 1 and w not in rules.class_words
            and w not in everyday and not any(v != w and v.startswith(w) for v in word_counts)
        }
        aliases |= {a.lower() for a, long_form in glossary.long_forms.items() if long_form == name}
        shared[name] = aliases
    topics = []
    for name, doc_id, path, declared in named:
        aliases = shared[" ".join(words(name))] | set(declared)
        topics.append(Topic(name, tuple(sorted(aliases)), doc_id, path))
    return topics


class Topics:
    """The topics of the corpus, found in text."""

    def __init__(self, topics: list[Topic], glossary: Glossary | None = None) -> None:
        self.topics = topics
        self.glossary = glossary or Glossary({})
        self._function_words = load("topics.yaml", TopicRulesFile).function_words
        self._by_name: dict[str, Topic] = {}
        self._by_article: dict[str, list[Topic]] = {}
        for topic in topics:
            self._by_name.setdefault(topic.name, topic)
            self._by_article.setdefault(topic.doc_id, []).append(topic)
        self._holders: dict[str, Topic | None] = {}
        self._headed: dict[str, set[str]] = {}
        self._by_alias = {alias: t for t in topics for alias in t.aliases}
        longest_first = sorted(self._by_alias, key=len, reverse=True)
        # One pattern for every alias: looking for a thousand topics costs one scan of the text.
        # "heel spurs" names "heel spur": a plural ending is allowed after any alias.
        self._pattern = (re.compile(r"\b(" + "|".join(map(re.escape, longest_first)) + r")(?:e?s)?\b")
                         if topics else None)

    def mentioned(self, text: str) -> list[Topic]:
        """Topics named in `text`, in the order they first appear."""
        return list(dict.fromkeys(topic for _, _, topic in self.spans(text)))

    def spans(self, text: str) -> list[tuple[int, int, Topic]]:
        """Where each topic is named in `text`: (start, end, topic), in order."""
        if self._pattern is None:
            return []
        lowered = straight_quotes(text).lower()
        found = []
        for match in self._pattern.finditer(lowered):
            topic = self._by_alias[match.group(1)]
            if not self._other_modifier(lowered[: match.start()], match.group(1), topic):
                found.append((match.start(), match.end(), topic))
        return found

    def _other_modifier(self, before: str, alias: str, topic: Topic) -> bool:
        """"shin bone bruise" is not "(heel) bone bruise": the end of a name, with
        another word where its first word stands, names something else."""
        name = words(topic.name)
        if not name or len(alias.split()) < 2 or alias.split()[0] == name[0] or alias not in " ".join(name):
            return False
        previous = re.findall(r"[a-z]+", before[-30:])
        return bool(previous) and previous[-1] not in self._function_words and previous[-1] not in name

    def named(self, name: str) -> Topic | None:
        return self._by_name.get(name)

    def heading(self, chunk: Chunk) -> Topic | None:
        """The topic whose own section this chunk opens ("4. Heel Spur"), if any."""
        holder = self.holder(chunk)
        return holder if holder is not None and holder.path and holder.path == chunk.heading_path else None

    def holder(self, chunk: Chunk) -> Topic | None:
        """The topic whose own part of its article holds this chunk (the deepest one), if any."""
        if chunk.id not in self._holders:
            holding = [t for t in self._by_article.get(chunk.doc_id, []) if t.heads(chunk)]
            self._holders[chunk.id] = max(holding, key=lambda t: len(t.path)) if holding else None
        return self._holders[chunk.id]

    def headed_for(self, chunk: Chunk) -> set[str]:
        """The topics a section's own heading names: by name, by an abbreviation of part of a
        name ("For PF/Heel Problems": PF is "plantar fascia"), or with words that
        are all in one name ("For Ligament Sprains")."""
        if chunk.id in self._headed:
            return self._headed[chunk.id]
        heading = chunk.heading_path[-1] if chunk.heading_path else ""
        names = {t.name for t in self.mentioned(self.glossary.expand(heading))}
        long_forms = [lf for abbr, lf in self.glossary.long_forms.items() if re.search(rf"\b{abbr}\b", heading)]
        names |= {t.name for t in self.topics if any(lf in t.name.lower() for lf in long_forms)}
        own = {_stem(w) for w in words(heading) if w not in self._function_words}
        names |= {t.name for t in self.topics if own and own <= {_stem(w) for w in words(t.name)}}
        self._headed[chunk.id] = names
        return names

    def only(self, text: str, topic_name: str) -> str:
        """`text` with every other topic's name taken out: one side of a comparison."""
        lowered = straight_quotes(text).lower()
        if self._pattern is not None:
            lowered = self._pattern.sub(lambda m: m.group(0) if self._by_alias[m.group(1)].name == topic_name
                                        else " ", lowered)
        return " ".join(lowered.split())

    def related(self, chunk: Chunk, topic_name: str | None) -> bool:
        """False only when the chunk is about a different topic than `topic_name`.

        "Treatment Options › For PF/Heel Problems" is related to "Plantar Fascia Tear":
        PF stands for "plantar fascia", part of that name.
        """
        topic = self.named(topic_name) if topic_name else None
        if topic is None:
            return True
        if topic.heads(chunk):
            return True
        holder = self.holder(chunk)
        if holder is not None and holder.path and holder is not topic:
            return False  # in another topic's own section
        headed = self.headed_for(chunk)
        if headed and topic.name not in headed:
            return False  # headed for another condition: "For Ligament Sprains"
        path = " ".join(chunk.heading_path)
        long_forms = [lf for abbr, lf in self.glossary.long_forms.items() if re.search(rf"\b{abbr}\b", path)]
        names_a_topic = any(lf in t.name.lower() for lf in long_forms for t in self.topics)
        if not self.mentioned(self.glossary.expand(path)) and not names_a_topic:
            return True  # a general section
        lowered, name = path.lower(), topic.name.lower()
        if any(re.search(rf"\b{re.escape(a)}(?:e?s)?\b", lowered) for a in topic.aliases):
            return True
        return any(long_form in name for long_form in long_forms)
