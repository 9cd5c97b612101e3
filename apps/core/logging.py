"""Log records with the request id they belong to, never with a secret in them.

``RequestContextFilter`` adds ``request_id`` and ``via`` (ui/api/worker/
system) to every record: the id the web request got (also in its
``X-Request-ID`` response header and its audit events), carried into the
Celery tasks it enqueued (``portal.celery``). ``RedactSecretsFilter`` is the
last line of defence: a token, password or private key that reaches a log
message anyway is replaced before any handler writes it.
"""

from __future__ import annotations

import logging
import re

from apps.core.context import current_request_id, current_via

_SECRETS = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), "[redacted private key]"),
    (re.compile(r"\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(password|passwd|secret|client_secret|token|api_key)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
     r"\1\2[redacted]"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+):[^@/\s]+@"), r"\1:[redacted]@"),  # passwords in URLs
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.via = current_via()
        return True


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
