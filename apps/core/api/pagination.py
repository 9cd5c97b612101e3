"""The API's pagination: limit/offset, strictly parsed."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

# PostgreSQL's OFFSET/LIMIT are bigint: anything larger is an error there, not an empty page.
_MAX_BIGINT = 2**63 - 1


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=&offset=``: a bad value is a 400 naming the parameter, never ignored or a 500.

    DRF's own class silently falls back to the default for ``limit=abc`` and
    passes ``offset=99999999999999999999`` to the database, which fails.
    """

    max_limit = 1000

    def _parameter(self, request, name: str, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isascii() or not raw.isdigit():
            raise ValidationError({name: [f"must be a whole number, at least {minimum}"]})
        value = int(raw)
        if value < minimum or value > _MAX_BIGINT:
            raise ValidationError({name: [f"must be between {minimum} and {_MAX_BIGINT}"]})
        return value

    def get_limit(self, request):
        value = self._parameter(request, self.limit_query_param, 1)
        if value is None:
            return self.default_limit
        return min(value, self.max_limit)

    def get_offset(self, request):
        return self._parameter(request, self.offset_query_param, 0) or 0
