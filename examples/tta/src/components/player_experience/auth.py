"""Simple bearer-token authentication.

Only SHA-256 digests of issued tokens are kept, and comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


class AuthError(PermissionError):
    """Raised for missing, unknown, revoked or expired credentials."""


@dataclass(frozen=True)
class Grant:
    player_id: str
    digest: str
    expires_at: float
    scopes: frozenset[str]


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


class TokenAuthenticator:
    def __init__(
        self,
        ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
        generate: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._ttl = ttl_seconds
        self._clock = clock
        self._generate = generate
        self._grants: dict[str, Grant] = {}

    def issue(self, player_id: str, scopes: set[str] | None = None) -> str:
        if not player_id:
            raise ValueError("player_id is required")
        credential = self._generate()
        digest = _digest(credential)
        if digest in self._grants:
            raise RuntimeError("credential generator returned a duplicate")
        expires = self._clock() + self._ttl
        self._grants[digest] = Grant(
            player_id, digest, expires, frozenset(scopes or {"play", "read"})
        )
        return credential

    def verify(self, credential: str | None, scope: str = "play") -> str:
        """Return the player id for a valid credential holding ``scope``."""
        if not credential:
            raise AuthError("missing credential")
        if credential.lower().startswith("bearer "):
            credential = credential[7:].strip()
        digest = _digest(credential)
        grant = next(
            (g for d, g in self._grants.items() if hmac.compare_digest(d, digest)),
            None,
        )
        if grant is None:
            raise AuthError("unknown credential")
        if self._clock() >= grant.expires_at:
            del self._grants[grant.digest]
            raise AuthError("credential expired")
        if scope not in grant.scopes:
            raise AuthError(f"credential lacks the {scope!r} scope")
        return grant.player_id

    def revoke(self, credential: str) -> bool:
        return self._grants.pop(_digest(credential), None) is not None

    def revoke_player(self, player_id: str) -> int:
        doomed = [d for d, g in self._grants.items() if g.player_id == player_id]
        for digest in doomed:
            del self._grants[digest]
        return len(doomed)

    def purge_expired(self) -> int:
        now = self._clock()
        expired = [d for d, g in self._grants.items() if now >= g.expires_at]
        for digest in expired:
            del self._grants[digest]
        return len(expired)
