"""With Redis down, a revocation still holds: the check falls back to the database."""

import shutil

import pytest
from django.core.cache import caches
from rest_framework_simplejwt.tokens import AccessToken

from accounts import revocation, services
from ticketing.tests import test_redis_faults

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server on PATH"),
]

redis_server = test_redis_faults.redis_server
site_on = test_redis_faults.site_on


def as_another_process():
    """Forget what this process remembers of the marks, as a process that did not revoke would."""
    caches["default"].clear_fallback()
    revocation.forget_memo()


def test_a_revocation_with_redis_down_is_read_from_the_database(site_on, buyer, other_buyer):
    token = AccessToken.for_user(buyer)
    services.revoke_all_sessions(user=other_buyer)  # the check now looks up the buyer's own mark
    assert revocation.access_token_revoked(user_id=buyer.pk, issued_at=token["iat"]) is False

    site_on.kill()
    services.revoke_all_sessions(user=buyer)
    as_another_process()

    assert not caches["default"].redis_available
    assert revocation.access_token_revoked(user_id=buyer.pk, issued_at=token["iat"]) is True


def test_a_revoked_token_is_refused_by_the_api_while_redis_is_down(site_on, buyer, regular, api):
    token = AccessToken.for_user(buyer)
    site_on.kill()
    services.revoke_all_sessions(user=buyer)
    as_another_process()

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    joined = api.post("/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, format="json")
    assert joined.status_code == 401
    assert api.get("/api/auth/me").status_code == 401
