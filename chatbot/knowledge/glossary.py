"""Abbreviations, found in the articles themselves, so a search finds them both ways.

"PF treatment" must reach the section headed "For PF/Heel Problems", and "plantar
fascia" must reach text that only says "PF". The glossary maps each abbreviation an
article uses to its long form, taken from (in order of trust):

1. the article's front matter (`abbreviations:`),
2. an explicit definition in the text: "Plantar fascia (PF)" or "RICE (Rest, Ice, ...)",
3. a Title Case phrase whose initials spell it, as in the heading "Plantar Fascia Tear".

Abbreviations with no long form in the articles (MRI, OTC) are left alone: the glossary never guesses.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chatbot.knowledge.corpus import Document
from chatbot.knowledge.markdown import plain

_ACRONYM = re.compile(r"\b([A-Z]{2,6})(s?)\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@dataclass(frozen=True)
class Glossary:
    long_forms: dict[str, str]  # "PF" -> "plantar fascia"

    @classmethod
    def from_documents(cls, documents: list[Document]) -> Glossary:
        long_forms: dict[str, str] = {}
        for doc in documents:
            text = plain(doc.body)
            for acronym in sorted({m.group(1) for m in _ACRONYM.finditer(text)}):
                found = _defined(acronym, text) or _title_case_phrase(acronym, text)
                if found and acronym not in long_forms:
                    long_forms[acronym] = found.lower()
            long_forms.update({k.upper(): v.lower() for k, v in doc.abbreviations.items()})
        return cls(long_forms)

    def expand(self, text: str) -> str:
        """`text` plus the long forms of the abbreviations it uses and the abbreviations of
        the long forms it uses, appended once each."""
        extra: list[str] = []
        lowered = text.lower()
        for acronym, long_form in self.long_forms.items():
            if self._mentions_acronym(acronym, text):
                extra.append(long_form)
            elif long_form in lowered:
                extra.append(acronym)
        return f"{text} ({'; '.join(extra)})" if extra else text

    @staticmethod
    def _mentions_acronym(acronym: str, text: str) -> bool:
        # Lowercase forms count only for acronyms that are not words: "dvt" yes, "rice" no.
        if re.search(rf"\b{acronym}s?\b", text):
            return True
        return not re.search(r"[AEIOUY]", acronym) and bool(re.search(rf"\b{acronym}s?\b", text, re.I))


def _defined(acronym: str, text: str) -> str | None:
    """"Long Form (ABBR)" or "ABBR (Long, Form)" where the initials match."""
    n = len(acronym)
    for match in re.finditer(rf"\({acronym}s?\)", text):  # then look at the words just before it
        before = re.search(rf"((?:[A-Za-z][\w’'-]*[\s,]+){{{n}}})$", text[max(0, match.start() - 40 * n):match.start()])
        if before and _initials(before.group(1)) == acronym:
            return " ".join(_WORD.findall(before.group(1)))
    after = re.search(rf"\b{acronym}s?\s*\(([^)]+)\)", text)
    if after and _initials(after.group(1)) == acronym:
        return " ".join(_WORD.findall(after.group(1)))
    return None


def _title_case_phrase(acronym: str, text: str) -> str | None:
    words = _WORD.findall(text)
    n = len(acronym)
    candidates = Counter(
        " ".join(window)
        for window in (words[i:i + n] for i in range(len(words) - n + 1))
        if all(w[0].isupper() for w in window) and _initials(" ".join(window)) == acronym
    )
    return candidates.most_common(1)[0][0] if candidates else None


def _initials(phrase: str) -> str:
    return "".join(word[0].upper() for word in _WORD.findall(phrase))
