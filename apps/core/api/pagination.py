"""The API's pagination: limit/offset, and keyset (cursor) for the big tables; both strictly parsed."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, LimitOffsetPagination

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


class StrictCursorPagination(CursorPagination):
    """Keyset pagination (``next``/``previous`` links carry the cursor); a bad ``cursor`` or ``limit`` is a 400, not DRF's 404."""

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    invalid_cursor_message = "invalid cursor; use the next/previous links as they are given"

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from None

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= 10**6:
            raise ValidationError({self.page_size_query_param: [f"must be a whole number from 1 to {self.max_page_size}"]})
        return min(int(raw), self.max_page_size)
