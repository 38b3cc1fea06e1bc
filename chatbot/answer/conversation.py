"""The first stage of a reply: the question, read in the light of the conversation.

"How is it treated?" after a talk about heel spurs means "How are heel spurs treated?".
The server keeps no state: the caller sends the history, a list of
{"role": "user" | "assistant", "content": str}. Topics are the conditions the articles cover
(knowledge/topics.py), with the shorter names people use for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chatbot.answer.reading import Reading
from chatbot.errors import InvalidInput
from chatbot.knowledge.topics import Topics

ROLES = ("user", "assistant")
_WORD = re.compile(r"[a-z]+")


def validate_history(data: Any, max_turns: int | None = None) -> list[dict[str, str]]:
    """Check the shape of a history; raise `InvalidInput` saying what is wrong."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput("invalid_history", "history must be a list of {role, content} objects")
    if max_turns is not None and len(data) > max_turns:
        raise InvalidInput("history_too_long", f"history has {len(data)} turns; the limit is {max_turns}")
    history = []
    for i, turn in enumerate(data):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"} or "role" not in turn or "content" not in turn:
            raise InvalidInput("invalid_history", f"history[{i}] must be an object with exactly 'role' and 'content'")
        if turn["role"] not in ROLES:
            raise InvalidInput("invalid_role", f"history[{i}].role must be 'user' or 'assistant', not {turn['role']!r}")
        if not isinstance(turn["content"], str):
            raise InvalidInput("invalid_history", f"history[{i}].content must be a string")
        history.append({"role": turn["role"], "content": turn["content"]})
    return history


@dataclass(frozen=True)
class Condensed:
    question: str  # what to search with
    topics: tuple[str, ...] = ()  # the topics it is about, if known (two or more: a comparison)
    from_history: bool = False  # True if the topic came from earlier turns
    reading: Reading | None = None  # the message, read: its ask, context, what it rules out

    @property
    def ask(self) -> str:
        """What the message asks (decides the kind of answer); the question itself when short."""
        return self.reading.ask if self.reading is not None else self.question

    @property
    def topic(self) -> str | None:
        return self.topics[0] if self.topics else None


def condense(message: str, history: list[dict[str, str]], topics: Topics, reading: Reading | None = None) -> Condensed:
    """The question to search with: a story's ask with the condition it is about (a
    professional's word first, never one it rules out); a follow-up with the conversation's topic."""
    if reading is not None and reading.is_story:
        question = _story_question(reading, topics)
        if reading.topics:
            return Condensed(question, reading.topics, False, reading)
        message = question
    own = [t for t in topics.mentioned(message) if reading is None or t.name not in reading.ruled_out]
    if own:
        return Condensed(message, tuple(t.name for t in own), False, reading)
    for turn in reversed(history[-6:]):
        if turn["role"] == "assistant":
            # A reply may name several conditions in passing; its subject is in its section labels.
            labels = " \n ".join(_SECTION_LABEL.findall(turn["content"]))
            earlier = topics.mentioned(labels) or topics.mentioned(turn["content"])
        else:
            earlier = topics.mentioned(turn["content"])[-1:]  # a user names their topic last
        if earlier:
            topic = earlier[0]
            return Condensed(f"{message.rstrip()} ({topic.name})", (topic.name,), True, reading)
    return Condensed(message, reading=reading)


def _story_question(reading: Reading, topics: Topics) -> str:
    """The ask, then what the story says of the symptoms: the sentences that are neither a
    professional's words nor about what was ruled out (those set the topic, or take it away)."""
    ruled_out = set(reading.ruled_out)
    told = [s for s in re.split(r"(?<=[.!?])\s+", reading.context)
            if s and not any(t.name in ruled_out for t in topics.mentioned(s)) and s not in reading.said]
    if reading.topics:
        return f"{reading.ask} ({', '.join(reading.topics)})"
    return " ".join([reading.ask, *told[-3:]])


_SECTION_LABEL = re.compile(r"^\*\*(.+?)\*\* \[\d+\]$", re.M)  # "**Heel Spur › Symptoms** [1]"
_REFERS_BACK = re.compile(r"\b(it|its|it's|this|these|those|them|which one)\b")


def refers_back(message: str) -> bool:
    """True if the question points at a problem it does not name: "how do I stop this coming
    back?", "which one have I got?"."""
    return bool(_REFERS_BACK.search(message.lower().replace("’", "'")))
