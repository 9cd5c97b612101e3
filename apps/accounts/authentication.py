"""``Authorization: Token <token>`` for the REST API, checked against stored digests.

Unknown tokens are counted per client address in the cache (Redis when
configured, so every process shares the count); past
``API_TOKEN_FAILURE_LIMIT`` within the cool-off, that address gets 429 with
``Retry-After`` for every token it sends, valid or not, so guessing gains
nothing from a lucky hit. Expired and revoked tokens are refused with their
own message and are not counted: they are a stale client, not a guess.
"""

from __future__ import annotations

import time

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_touch, token_digest

_FAILURES_KEY = "api-token-failures:{ip}"
_BLOCKED_KEY = "api-token-blocked:{ip}"


def api_token_failures_reset(ip: str) -> None:
    """Forget the failed attempts of one client address."""
    cache.delete_many([_FAILURES_KEY.format(ip=ip), _BLOCKED_KEY.format(ip=ip)])


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        self._ip = get_client_ip_address(request) or "unknown"
        blocked_until = cache.get(_BLOCKED_KEY.format(ip=self._ip))
        if blocked_until is not None and authentication.get_authorization_header(request):
            self._throttled(blocked_until)
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(digest=token_digest(key)).first()
        if token is None:
            self._count_failure()
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(f"Token revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed(f"Token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; issue a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        api_token_touch(token=token)
        return token.user, token

    def _count_failure(self) -> None:
        window = settings.API_TOKEN_FAILURE_COOLOFF_SECONDS
        key = _FAILURES_KEY.format(ip=self._ip)
        # add() then incr(): atomic in Redis, so concurrent guesses all count.
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window)
            failures = 1
        if failures >= settings.API_TOKEN_FAILURE_LIMIT:
            until = time.time() + window
            cache.set(_BLOCKED_KEY.format(ip=self._ip), until, timeout=window)
            cache.delete(key)
            self._throttled(until)

    def _throttled(self, until: float):
        wait = max(1, int(until - time.time() + 0.999))
        # DRF's exception handler turns ``wait`` into the Retry-After header.
        raise exceptions.Throttled(wait=wait, detail=f"Too many invalid API tokens from your address; try again in {wait} seconds.")
