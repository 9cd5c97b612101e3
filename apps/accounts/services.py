"""Account services: API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from apps.accounts.models import ApiToken, User
from apps.audit.services import audit_record

TOKEN_PREFIX = "pp_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_issue(*, actor: User | None, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the token (shown once, never stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name, prefix=token[:10], digest=token_digest(token))
    audit_record(actor=actor, action="api_token.issue", target=user, after={"token": row.prefix + "…", "name": name})
    return row, token
