"""Stage 1: the corpus. Reads the articles the bot answers from.

Every `.md` and `.txt` file in the corpus folder is one article. A Markdown file may start
with YAML front matter; without it the id comes from the file name and the title from the
first `# ` heading or first line. Front matter fields, all optional:

    id: heel-pain                       # lowercase letters, digits, '.', '_' or '-'
    title: "Heel pain"
    source: "https://..."               # where the text comes from
    covers: "pain under the heel"       # what the article is about, in the bot's greeting
    abbreviations: {PF: plantar fasciitis}
    roles: {"Ways to ease it": self_care}   # heading (or heading path) -> section role
    topics: {Plantar fasciitis: [heel spur pain]}   # conditions it covers -> other names for them
    questions: ["What helps heel pain?"]    # example questions for the greeting
    lay_terms: [{when: "heel bone", add: calcaneus}]  # patients' words (a regex) -> the article's
    audience: adults                    # who it is written for (adults | children | everyone)
A file that cannot be used raises `CorpusError` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chatbot.errors import CorpusError

ARTICLE_SUFFIXES = (".md", ".txt")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    body: str  # Markdown, front matter removed
    path: Path
    source: str = ""
    abbreviations: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    covers: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    questions: tuple[str, ...] = ()
    audience: str = "adults"
    lay_terms: tuple[tuple[str, str], ...] = ()  # (pattern, the article's words for it)


def load_corpus(folder: Path) -> list[Document]:
    """Load every article in `folder`, sorted by file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(folder, "the corpus folder does not exist")
    paths = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise CorpusError(folder, f"no article files ({', '.join(ARTICLE_SUFFIXES)}) in the corpus folder")
    documents = [load_document(p) for p in paths]
    seen: dict[str, Path] = {}
    for doc in documents:
        if doc.id in seen:
            raise CorpusError(doc.path, f"document id {doc.id!r} is already used by {seen[doc.id].name}")
        seen[doc.id] = doc.path
    return documents


def load_document(path: Path) -> Document:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(path, f"cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"is not UTF-8 text (bad byte at position {exc.start})") from None
    if "\x00" in text:
        raise CorpusError(path, "looks like a binary file, not text")

    meta, body = _split_front_matter(path, text)
    if not body.strip():
        raise CorpusError(path, "has no article text")
    is_plain_text = path.suffix.lower() == ".txt" and not body.lstrip().startswith("#")
    first_line = body.strip().splitlines()[0] if body.strip() else ""
    title = str(meta.get("title") or _first_heading(body) or (first_line if is_plain_text else "")).strip()
    if not title:
        raise CorpusError(path, "has no title (add `title:` front matter or a `# ` heading)")
    doc_id = str(meta.get("id") or _slug(path.stem))
    if not _ID.match(doc_id):
        raise CorpusError(path, f"id {doc_id!r} must be lowercase letters, digits, '.', '_' or '-'")
    abbreviations = meta.get("abbreviations") or {}
    if not isinstance(abbreviations, dict) or not all(isinstance(v, str) for v in abbreviations.values()):
        raise CorpusError(path, "`abbreviations` must map each abbreviation to its long form")
    extras = _optional_fields(path, meta)
    if is_plain_text:
        body = _plain_text_to_markdown(body, title)
    return Document(
        id=doc_id,
        title=title,
        body=body,
        path=path,
        source=str(meta.get("source") or path.name),
        abbreviations={str(k): v for k, v in abbreviations.items()},
        sha256=hashlib.sha256(raw).hexdigest(),
        **extras,
    )


AUDIENCES = ("adults", "children", "everyone")


def _optional_fields(path: Path, meta: dict) -> dict:
    """The optional front matter fields, checked: each problem names the field."""
    covers, roles, topics = meta.get("covers", ""), meta.get("roles") or {}, meta.get("topics") or {}
    questions, audience = meta.get("questions") or [], meta.get("audience", "adults")
    if not isinstance(covers, str):
        raise CorpusError(path, "`covers` must be a short text")
    if not isinstance(roles, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in roles.items()):
        raise CorpusError(path, "`roles` must map each heading to a role name")
    if isinstance(topics, list):
        topics = {name: [] for name in topics}
    if not isinstance(topics, dict) or not all(
        isinstance(k, str) and isinstance(v or [], list) and all(isinstance(a, str) for a in v or [])
        for k, v in topics.items()
    ):
        raise CorpusError(path, "`topics` must list condition names, or map each to a list of other names")
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise CorpusError(path, "`questions` must be a list of example questions")
    if audience not in AUDIENCES:
        raise CorpusError(path, f"`audience` must be one of {', '.join(AUDIENCES)}")
    return {
        "covers": covers.strip(), "roles": dict(roles), "audience": audience, "lay_terms": _lay_terms(path, meta),
        "topics": {str(k): tuple(v or ()) for k, v in topics.items()}, "questions": tuple(questions),
    }


def corpus_fingerprint(documents: list[Document]) -> str:
    """Changes when any article's bytes, name or the set of articles changes."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.path.name):
        digest.update(f"{doc.path.name}\0{doc.sha256}\n".encode())
    return digest.hexdigest()


def _lay_terms(path: Path, meta: dict) -> tuple[tuple[str, str], ...]:
    terms = meta.get("lay_terms") or []
    if not isinstance(terms, list) or not all(
        isinstance(t, dict) and set(t) == {"when", "add"} and all(isinstance(v, str) for v in t.values()) for t in terms
    ):
        raise CorpusError(path, "`lay_terms` must be a list of {when: pattern, add: the article's words}")
    for term in terms:
        try:
            re.compile(term["when"])
        except re.error as exc:
            raise CorpusError(path, f"`lay_terms` pattern {term['when']!r} is not a valid pattern ({exc})") from None
    return tuple((t["when"], t["add"]) for t in terms)


def _split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---\n"):
            raise CorpusError(path, "front matter starts with '---' but has no closing '---' line")
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(path, f"front matter is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a mapping of `key: value` lines")
    return meta, text[match.end():]


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _plain_text_to_markdown(body: str, title: str) -> str:
    """A plain-text article becomes one section under its title; paragraphs are kept."""
    lines = body.strip().splitlines()
    if lines and lines[0].strip() == title:
        lines = lines[1:]
    return f"# {title}\n\n" + "\n".join(lines).strip() + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"
