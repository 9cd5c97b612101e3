"""OpenAPI post-processing: the answers every operation can give, documented once.

Whatever an operation declares, the bad-input middleware may answer 400
(NUL bytes, JSON nested too deep) or 413 (body too large), and token
authentication 401 or 429 (too many failed token attempts from one
address). Listing them here keeps each view's ``responses`` about its own
behaviour and the schema honest for clients and schemathesis alike.
"""

from __future__ import annotations

_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}

# 400 bodies: field name -> messages (``non_field_errors`` for the body as a
# whole), or ``{"detail": "..."}`` when the request could not be read at all
# (malformed JSON, NUL bytes, too deep).
VALIDATION_ERROR_SCHEMA = {
    "anyOf": [
        {**_DETAIL, "additionalProperties": False},
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    ],
    "description": 'Field name -> messages, e.g. {"name": ["..."], "quota": ["limits.cpu: must be at least requests.cpu (2)"]}; '
                   'a body that cannot be read gives {"detail": "..."}',
}
_COMMON = {
    "400": ("Invalid input (field -> messages), or a request that could not be read (malformed JSON, NUL bytes, nested too deep)",
            VALIDATION_ERROR_SCHEMA),
    "401": ("No or invalid credentials (send `Authorization: Token <token>`)", _DETAIL),
    "429": ("Too many failed token attempts from this address; retry after `Retry-After` seconds", _DETAIL),
}
_WITH_BODY = {"413": ("The request body is larger than the portal accepts", _DETAIL)}


def document_common_errors(result, generator, request, public):
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            common = {**_COMMON, **(_WITH_BODY if "requestBody" in operation else {})}
            for code, (description, schema) in common.items():
                responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": schema}}})
    return result
