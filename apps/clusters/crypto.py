"""Encryption at rest for cluster credentials (Fernet; key rotation via MultiFernet)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in settings.CLUSTER_CREDENTIAL_KEYS])
    except (ValueError, TypeError):
        raise ImproperlyConfigured("CLUSTER_CREDENTIAL_KEYS must be comma-separated Fernet keys (Fernet.generate_key())") from None


def encrypt(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise ImproperlyConfigured(
            "stored cluster credentials cannot be decrypted with CLUSTER_CREDENTIAL_KEYS; was the key changed without keeping the old one?"
        ) from None
