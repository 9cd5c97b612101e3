"""Bodies: JSON, YAML and protobuf requests decoded with the real server's errors; compact JSON answers."""

from __future__ import annotations

import json

import yaml

from . import errors, gojson

encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _reject_constant(name: str):
    # Python's json accepts NaN/Infinity; Go's does not (the scanner then words the error).
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(body: bytes):
    """Parse a JSON body like Go's ``json.Unmarshal`` would, raising ``ValueError`` with Go's error text.

    Python's C parser does the work; only on failure does the (slow, exact)
    port of Go's scanner in :mod:`kubesim.gojson` find the message Go gives.
    """
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        message = gojson.syntax_error(body) or "exceeded max depth"
        raise ValueError(message) from None
    except (ValueError, UnicodeDecodeError):
        pass
    message = gojson.syntax_error(body)
    if message is None:
        # Syntactically valid for Go: invalid UTF-8 in a string, which Go decodes as U+FFFD.
        try:
            return json.loads(body.decode("utf-8", "replace"), parse_constant=_reject_constant)
        except RecursionError:
            message = "exceeded max depth"
        except ValueError as exc:  # not expected: the scanner and Python agree on everything else
            message = str(exc)
    raise ValueError(message)


def decode_body(body: bytes, content_type: str, expected_kind: str | None = None) -> dict:
    """Decode a request body (JSON, YAML or protobuf) into a JSON-shaped dict with the real 400/415 errors.

    ``expected_kind`` is the kind of the resource a create/update addresses:
    decode errors then read like apiserver's ``transformDecodeError`` (``the
    object provided is unrecognized (must be of type Namespace): couldn't get
    version/kind; json parse error: ... ({"kind": ...)``), protobuf errors name
    that kind, and a ``null`` body decodes to an empty object as in Go.
    """
    ctype = (content_type or "application/json").split(";")[0].strip().lower()
    if ctype == "application/vnd.kubernetes.protobuf":
        from . import protobuf

        # protobuf.decode words its own errors like transformDecodeError when it knows the kind.
        data = protobuf.decode(body, expected_kind=expected_kind)
    else:
        try:
            data = _decode_text(body, ctype)
        except errors.StatusError as exc:
            if expected_kind is None or exc.code != 400:
                raise
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {expected_kind}): "
                                     f"{exc.message} ({gojson.summarize(body)})") from None
    if expected_kind is not None and data is None:
        return {}
    if not isinstance(data, dict):
        snippet = body[:200].decode("utf-8", "replace")
        raise errors.bad_request(f"Object 'Kind' is missing in '{snippet}'")
    return data


def _decode_text(body: bytes, ctype: str):
    """JSON or YAML body -> Python value; 400 with the Go wording for what meta.go's Interpret rejects."""
    if ctype in ("application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", ""):
        try:
            data = parse_json(body)
        except ValueError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    elif ctype in ("application/yaml", "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: yaml: {_yaml_error(exc)}") from None
        except RecursionError:
            raise errors.bad_request("error converting YAML to JSON: yaml: exceeded max depth") from None
        data = _json_safe(data)
    else:
        raise errors.unsupported_media_type(ctype)
    type_error = gojson.type_error(data)
    if type_error is not None:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {type_error}")
    return data


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return problem


def _json_safe(value):
    """YAML can produce dates and non-string keys; coerce to what JSON would carry."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)

