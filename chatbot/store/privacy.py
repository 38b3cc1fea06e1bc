"""What is taken out of free text before it is stored: e-mail addresses and phone numbers.

People put contact details in questions and comments ("call me on 0612 345 678"). The bot
never needs them, so they are replaced by a placeholder before a row is written, and the
placeholder is all that ever reaches the database or an export.

A phone number is a run of at least 7 digits that may be broken by spaces, dots, dashes,
slashes or brackets and may start with "+": long enough to leave "2-3 weeks" or "6 to 8"
alone. Dates written with dashes ("2024-03-12") look the same and are stripped too, which
errs on the side of storing less.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s./()-]{0,2}\d){6,}(?!\w)")
EMAIL_MARK = "[e-mail removed]"
PHONE_MARK = "[phone removed]"


def scrub(text: str | None) -> str | None:
    """The text with e-mail addresses and phone numbers replaced; None stays None."""
    if not text:
        return text
    return PHONE.sub(PHONE_MARK, EMAIL.sub(EMAIL_MARK, text))
