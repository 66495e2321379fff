from __future__ import annotations

import itertools

import pytest

from components.player_experience.auth import AuthError, TokenAuthenticator


@pytest.fixture
def auth(fake_clock) -> TokenAuthenticator:
    counter = itertools.count(1)
    return TokenAuthenticator(
        ttl_seconds=60, clock=fake_clock, generate=lambda: f"credential-{next(counter)}"
    )


def test_issued_credential_verifies_until_it_expires(auth: TokenAuthenticator, fake_clock) -> None:
    credential = auth.issue("ava")
    assert credential == "credential-1"
    assert auth.verify(credential) == "ava"
    fake_clock.advance(60)
    with pytest.raises(AuthError, match="expired"):
        auth.verify(credential)


def test_unknown_credentials_are_rejected(auth: TokenAuthenticator) -> None:
    with pytest.raises(AuthError, match="unknown"):
        auth.verify("made-up")
