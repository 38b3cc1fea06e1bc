"""Admin sign-in: a hashed secret, signed session cookies, CSRF tokens.

    stored = hash_secret("correct horse battery staple")    # what CHATBOT_ADMIN_SECRET_HASH holds
    verify_secret("correct horse battery staple", stored)   # True, in constant time
    sessions = Sessions(key)                                 # key: shared by every replica (Store.shared_key)
    token = sessions.issue(); sessions.check(token)          # -> the session's id, or None
    sessions.csrf(session_id)                                # the token every change must carry

Only the scrypt hash of the secret is configured, never the secret. A session is a signed,
expiring token (HMAC-SHA256), so any replica can check it without a session table; the key is
derived from a random key kept in the database and from the configured hash, so changing the
secret ends every session. A CSRF token is an HMAC of the session's id: valid for that session
only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from chatbot.errors import ChatbotError

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # about 50 ms and 16 MB per check: slow for guessing, fine for signing in
SESSION_SECONDS = 8 * 3600


def hash_secret(secret: str, *, n: int = N, r: int = R, p: int = P) -> str:
    if len(secret) < 12:
        raise ChatbotError("The admin secret must be at least 12 characters long.")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_hash(stored: str) -> None:
    """Raise a clear error for a setting that is not a hash this module made."""
    try:
        _parse(stored)
    except (ValueError, TypeError):
        raise ChatbotError(
            "CHATBOT_ADMIN_SECRET_HASH is not a hash made by `chatbot admin hash-secret` "
            "(expected scrypt$N$r$p$salt$hash)."
        ) from None


def verify_secret(secret: str, stored: str) -> bool:
    n, r, p, salt, expected = _parse(stored)
    digest = hashlib.scrypt(secret.encode("utf-8", "replace"), salt=salt, n=n, r=r, p=p, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, n, r, p, salt, digest = stored.strip().split("$")
    if scheme != SCHEME or int(n) < 2**10 or int(n) & (int(n) - 1):
        raise ValueError("not an scrypt hash")
    return int(n), int(r), int(p), _unb64(salt), _unb64(digest)


class Sessions:
    def __init__(self, key: bytes, lifetime: int = SESSION_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._key, self.lifetime, self.clock = key, lifetime, clock

    @classmethod
    def for_secret(cls, shared_key: bytes, secret_hash: str, **kwargs) -> Sessions:
        return cls(hmac.new(shared_key, secret_hash.encode(), hashlib.sha256).digest(), **kwargs)

    def issue(self) -> str:
        payload = f"{int(self.clock()) + self.lifetime}.{secrets.token_urlsafe(18)}"
        return f"{payload}.{self._sign('session', payload)}"

    def check(self, token: str | None) -> str | None:
        """The session id if `token` is one we issued and it has not expired."""
        if not token or token.count(".") != 2:
            return None
        expires, session_id, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign("session", f"{expires}.{session_id}")):
            return None
        if not expires.isdigit() or int(expires) < self.clock():
            return None
        return session_id

    def csrf(self, session_id: str) -> str:
        return self._sign("csrf", session_id)

    def check_csrf(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf(session_id))

    def _sign(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
