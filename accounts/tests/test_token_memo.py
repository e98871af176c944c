"""A token's signature is checked once per process; its expiry and revocation at every use."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import authentication, services

pytestmark = pytest.mark.django_db

PATHS = ["/api/auth/me", "/api/ticket-requests"]  # the database's user, and the token-trusting one


@pytest.fixture(autouse=True)
def _fresh_memo():
    authentication._validated.cache_clear()
    yield
    authentication._validated.cache_clear()


@pytest.fixture
def decodes(monkeypatch):
    calls = []
    real = TokenBackend.decode

    def counted(self, token, verify=True):
        calls.append(token)
        return real(self, token, verify)

    monkeypatch.setattr(TokenBackend, "decode", counted)
    return calls


def get(api, path, token):
    return api.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize("path", PATHS)
def test_a_token_is_decoded_once_then_remembered(api, buyer, decodes, path):
    token = str(AccessToken.for_user(buyer))
    assert [get(api, path, token).status_code for _ in range(3)] == [200, 200, 200]
    assert len(decodes) == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_remembered_token_is_refused_once_it_expires(api, buyer, monkeypatch, path):
    token = str(AccessToken.for_user(buyer))
    assert get(api, path, token).status_code == 200
    later = aware_utcnow() + AccessToken.lifetime + timedelta(seconds=5)
    monkeypatch.setattr(authentication, "aware_utcnow", lambda: later)
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)

    refused = get(api, path, token)

    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("path", PATHS)
def test_a_remembered_token_is_refused_once_revoked(api, buyer, path):
    token = str(AccessToken.for_user(buyer))
    assert get(api, path, token).status_code == 200
    services.revoke_all_sessions(user=buyer)

    assert get(api, path, token).status_code == 401


def test_a_bad_token_is_never_remembered(api, buyer, decodes):
    forged = str(AccessToken.for_user(buyer))[:-2] + "xx"
    assert [get(api, "/api/auth/me", forged).status_code for _ in range(2)] == [401, 401]
    assert len(decodes) == 2
