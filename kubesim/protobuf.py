"""Decode Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl's typed clients (``kubectl create namespace|configmap|role|...``,
``kubectl certificate approve``, ``kubectl auth can-i``, ``kubectl auth whoami``)
send their bodies as protobuf, not JSON. The wire format is described in
``k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go``: the four
magic bytes ``k8s\\x00`` followed by a ``runtime.Unknown`` message whose
``typeMeta`` names the kind and whose ``raw`` bytes hold the object itself,
encoded with the message definitions in ``k8s.io/api/<group>/<version>/generated.proto``.

This module is a dependency-free protobuf reader plus a field table
(:mod:`kubesim.protobuf_schema`) that is *generated* from the real
``FileDescriptorProto`` blobs compiled into a kubectl binary (see
:func:`main`), so field numbers and names are the real ones rather than
hand-copied. :func:`decode` turns a body into the exact JSON shape the API
server would produce for the same object (camelCase keys, ``apiVersion`` and
``kind`` from ``typeMeta``, RFC 3339 timestamps, base64 bytes, quantities as
strings), so the rest of kubesim only ever sees JSON-shaped dicts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import struct
import sys
import zlib
from pathlib import Path

from kubesim import errors

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# FieldDescriptorProto.Type values (google/protobuf/descriptor.proto).
T_DOUBLE, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL = 1, 2, 3, 4, 5, 6, 7, 8
T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM = 9, 10, 11, 12, 13, 14
T_SFIXED32, T_SFIXED64, T_SINT32, T_SINT64 = 15, 16, 17, 18

# Flags in the generated field table.
F_REPEATED = 1
F_POINTER = 2  # Go field is a pointer (gogoproto.nullable not false): presence is meaningful
F_MAP = 4  # map<k, v>: the type reference names the synthetic *Entry message
F_INLINE = 8  # embedded Go struct with `json:",inline"`: its fields are merged into the parent object

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
TIME = _META + "Time"
MICROTIME = _META + "MicroTime"
DURATION = _META + "Duration"
FIELDS_V1 = _META + "FieldsV1"
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
# Go types declared as ``[]string`` that go-to-protobuf wraps in a message with
# one ``repeated string items = 1`` field; their JSON form is the bare list.
_STRING_SLICE_SUFFIXES = (".ExtraValue", ".Verbs")


_WIRE_VARINT, _WIRE_FIXED64, _WIRE_LEN, _WIRE_SGROUP, _WIRE_EGROUP, _WIRE_FIXED32 = 0, 1, 2, 3, 4, 5

_CRD_MEDIA_TYPES = "application/json, application/yaml"


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message (text mirrors gogo-protobuf's errors)."""


# ---------------------------------------------------------------------------
# Wire format reader
# ---------------------------------------------------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; returns ``(value, new_pos)`` (value is unsigned)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("unexpected EOF")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ProtobufError("proto: integer overflow")


def iter_fields(buf: bytes):
    """Yield ``(field_number, wire_type, value)`` for each field of one message.

    ``value`` is an int for varint/fixed wire types and a ``bytes`` slice for
    length-delimited fields. Groups (deprecated, never used by Kubernetes) are
    rejected.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"proto: illegal tag 0 (wire type {wire})")
        if wire == _WIRE_VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == _WIRE_LEN:
            length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise ProtobufError("unexpected EOF")
            value = buf[pos:pos + length]
            pos += length
        elif wire == _WIRE_FIXED64:
            if pos + 8 > end:
                raise ProtobufError("unexpected EOF")
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == _WIRE_FIXED32:
            if pos + 4 > end:
                raise ProtobufError("unexpected EOF")
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"proto: illegal wireType {wire}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    """Two's-complement reinterpretation (negative int32/int64 are 10-byte varints)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(ftype: int, wire: int, value, field_name: str):
    """Convert one wire value of a scalar field to its JSON value."""
    if ftype in (T_INT64, T_INT32, T_UINT64, T_UINT32, T_BOOL, T_ENUM, T_SINT32, T_SINT64):
        if wire != _WIRE_VARINT:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {field_name}")
        if ftype == T_INT64:
            return _signed(value, 64)
        if ftype in (T_INT32, T_ENUM):
            return _signed(value, 32)
        if ftype == T_BOOL:
            return value != 0
        if ftype in (T_SINT32, T_SINT64):
            return (value >> 1) ^ -(value & 1)
        return value
    if ftype in (T_STRING, T_BYTES):
        if wire != _WIRE_LEN:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {field_name}")
        if ftype == T_BYTES:
            return base64.b64encode(value).decode("ascii")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtobufError(f"proto: field {field_name} contains invalid UTF-8") from None
    if ftype in (T_DOUBLE, T_FIXED64, T_SFIXED64):
        if wire != _WIRE_FIXED64:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {field_name}")
        raw = value.to_bytes(8, "little")
        if ftype == T_DOUBLE:
            return struct.unpack("<d", raw)[0]
        return _signed(value, 64) if ftype == T_SFIXED64 else value
    if ftype in (T_FLOAT, T_FIXED32, T_SFIXED32):
        if wire != _WIRE_FIXED32:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {field_name}")
        raw = value.to_bytes(4, "little")
        if ftype == T_FLOAT:
            return struct.unpack("<f", raw)[0]
        return _signed(value, 32) if ftype == T_SFIXED32 else value
    raise ProtobufError(f"proto: unsupported field type {ftype} for field {field_name}")


def _packed(ftype: int, payload: bytes, field_name: str) -> list:
    """Decode a packed repeated scalar field (proto3 style; accepted for robustness)."""
    out = []
    pos = 0
    if ftype in (T_DOUBLE, T_FIXED64, T_SFIXED64):
        for pos in range(0, len(payload) - len(payload) % 8, 8):
            out.append(_scalar(ftype, _WIRE_FIXED64, int.from_bytes(payload[pos:pos + 8], "little"), field_name))
        return out
    if ftype in (T_FLOAT, T_FIXED32, T_SFIXED32):
        for pos in range(0, len(payload) - len(payload) % 4, 4):
            out.append(_scalar(ftype, _WIRE_FIXED32, int.from_bytes(payload[pos:pos + 4], "little"), field_name))
        return out
    while pos < len(payload):
        value, pos = read_varint(payload, pos)
        out.append(_scalar(ftype, _WIRE_VARINT, value, field_name))
    return out


# ---------------------------------------------------------------------------
# Messages -> JSON
# ---------------------------------------------------------------------------


def _format_time(seconds: int, nanos: int, micro: bool) -> str | None:
    if seconds == 0 and nanos == 0:
        return None  # the zero metav1.Time marshals to JSON null
    moment = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micro:
        text += f".{nanos // 1000:06d}"
    return text + "Z"


def _format_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String() for the common cases (metav1.Duration marshals that way)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                value = ns / size
                return f"{sign}{value:g}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = rest / 1_000_000_000
    text = f"{seconds:g}s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _special(type_name: str, payload: bytes):
    """JSON value of the message types whose JSON form is not an object."""
    fields = {}
    for number, _wire, value in iter_fields(payload):
        fields[number] = value
    if type_name in (TIME, MICROTIME):
        seconds = _signed(fields.get(1, 0), 64)
        nanos = _signed(fields.get(2, 0), 32)
        return _format_time(seconds, nanos, type_name == MICROTIME)
    if type_name == DURATION:
        return _format_duration(_signed(fields.get(1, 0), 64))
    if type_name == QUANTITY:
        raw = fields.get(1, b"")
        return raw.decode("utf-8") if raw else "0"
    if type_name == INT_OR_STRING:
        if fields.get(1, 0) == 1:
            raw = fields.get(3, b"")
            return raw.decode("utf-8")
        return _signed(fields.get(2, 0), 32)
    if type_name in (RAW_EXTENSION, FIELDS_V1):
        raw = fields.get(1, b"")
        if not raw:
            return None if type_name == RAW_EXTENSION else {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ProtobufError(f"{type_name.rsplit('.', 1)[1]}: raw bytes are not JSON") from None
    raise AssertionError(type_name)


_SPECIAL = {TIME, MICROTIME, DURATION, QUANTITY, INT_OR_STRING, RAW_EXTENSION, FIELDS_V1}


def _is_string_slice(type_name: str) -> bool:
    return type_name.endswith(_STRING_SLICE_SUFFIXES)


def _zero_value(type_name: str):
    """JSON form of a non-pointer message field that is absent from the wire."""
    if type_name in (TIME, MICROTIME, RAW_EXTENSION):
        return None
    if type_name == QUANTITY:
        return "0"
    if type_name == INT_OR_STRING:
        return 0
    if type_name == DURATION:
        return "0s"
    if _is_string_slice(type_name):
        return None
    return {}


def _value(ftype: int, ref: str, wire: int, value, field_name: str, messages: dict):
    if ftype == T_MESSAGE:
        if wire != _WIRE_LEN:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {field_name}")
        if ref in _SPECIAL:
            return _special(ref, value)
        if _is_string_slice(ref):
            return [item.decode("utf-8") for number, w, item in iter_fields(value) if number == 1 and w == _WIRE_LEN]
        return decode_message(ref, value, messages)
    return _scalar(ftype, wire, value, field_name)


def decode_message(type_name: str, payload: bytes, messages: dict | None = None) -> dict:
    """Decode one message of the fully qualified ``type_name`` into a JSON-shaped dict.

    Follows Go's ``encoding/json`` view of the Kubernetes struct: zero scalars
    of non-pointer fields are omitted (``omitempty``), pointer fields are kept
    when present even if zero (``replicas: 0``), non-pointer struct fields are
    always present (``spec: {}``, ``creationTimestamp: null``). Unknown field
    numbers are skipped, as the real (gogo-protobuf) decoder does.
    """
    if messages is None:
        messages = _messages()
    fields = messages.get(type_name)
    if fields is None:
        raise ProtobufError(f"no protobuf definition for {type_name}")
    by_number = {f[0]: f for f in fields}
    out: dict = {}
    for number, wire, value in iter_fields(payload):
        spec = by_number.get(number)
        if spec is None:
            continue
        _, name, ftype, ref, flags = spec
        if flags & F_INLINE:
            if wire != _WIRE_LEN:
                raise ProtobufError(f"proto: wrong wireType = {wire} for field {name}")
            out.setdefault(name, {}).update(decode_message(ref, value, messages))
        elif flags & F_MAP:
            key, item = _map_entry(ref, value, messages, name)
            out.setdefault(name, {})[key] = item
        elif flags & F_REPEATED:
            items = out.setdefault(name, [])
            if wire == _WIRE_LEN and ftype not in (T_STRING, T_BYTES, T_MESSAGE):
                items.extend(_packed(ftype, value, name))
            else:
                items.append(_value(ftype, ref, wire, value, name, messages))
        else:
            out[name] = _value(ftype, ref, wire, value, name, messages)
    result: dict = {}
    for _number, name, ftype, ref, flags in fields:
        if flags & F_INLINE:
            inline = out.get(name)
            result.update(inline if inline is not None else decode_message(ref, b"", messages))
        elif name in out:
            value = out[name]
            if not (flags & (F_POINTER | F_REPEATED | F_MAP)) and ftype != T_MESSAGE and value in ("", 0, False):
                continue  # omitempty on a non-pointer scalar
            result[name] = value
        elif ftype == T_MESSAGE and not flags:
            result[name] = _zero_value(ref)
    return result


def _map_entry(entry_type: str, payload: bytes, messages: dict, field_name: str):
    entry = {f[0]: f for f in messages[entry_type]}
    key_spec, value_spec = entry[1], entry[2]
    key = "" if key_spec[2] == T_STRING else 0
    item = _zero_value(value_spec[3]) if value_spec[2] == T_MESSAGE else ("" if value_spec[2] in (T_STRING, T_BYTES) else 0)
    for number, wire, value in iter_fields(payload):
        if number == 1:
            key = _scalar(key_spec[2], wire, value, field_name)
        elif number == 2:
            item = _value(value_spec[2], value_spec[3], wire, value, field_name, messages)
    return key, item


# ---------------------------------------------------------------------------
# The envelope
# ---------------------------------------------------------------------------

_SCHEMA_CACHE: dict = {}


def _messages() -> dict:
    if not _SCHEMA_CACHE:
        from kubesim import protobuf_schema

        _SCHEMA_CACHE.update(protobuf_schema.MESSAGES)
    return _SCHEMA_CACHE


def proto_package(api_version: str) -> str:
    """The proto package holding the types of an apiVersion ("rbac.authorization.k8s.io/v1" -> "k8s.io.api.rbac.v1")."""
    group, _, version = api_version.rpartition("/")
    if not group:
        return f"k8s.io.api.core.{version}"
    if group == "internal.apiserver.k8s.io":
        return f"k8s.io.api.apiserverinternal.{version}"
    return f"k8s.io.api.{group.split('.', 1)[0]}.{version}"


def message_type(api_version: str, kind: str) -> str | None:
    """Fully qualified proto message for ``apiVersion``/``kind``, or None if kubesim has no table for it.

    Options kinds (DeleteOptions, ...) are registered in every group but are
    defined once in meta/v1, so they fall back there.
    """
    messages = _messages()
    candidate = f"{proto_package(api_version)}.{kind}"
    if candidate in messages:
        return candidate
    if _META + kind in messages and kind.endswith("Options"):
        return _META + kind
    return None


def supports(api_version: str, kind: str) -> bool:
    """Whether :func:`decode` can decode objects of this type (CRD kinds cannot: real servers answer 415)."""
    return message_type(api_version, kind) is not None


def _summarize(data: bytes, limit: int = 30) -> str:
    """apiserver's summarizeData(): hex of the first bytes of a non-JSON body."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        text = data[:limit].decode("utf-8", "replace")
        return text + " ..." if len(data) > limit else text
    return binascii.hexlify(data[:limit]).decode() + (" ..." if len(data) > limit else "")


def unsupported_media_type() -> errors.StatusError:
    """415 as the real server answers a protobuf body for a type without protobuf support (CRDs)."""
    return errors.StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: " + _CRD_MEDIA_TYPES,
    )


def decode(body: bytes, expected_kind: str | None = None) -> dict:
    """Decode a ``k8s\\x00``-framed protobuf request body into a JSON-shaped dict.

    ``expected_kind`` (the kind of the resource the URL addresses, if the
    caller knows it) only improves error messages, mirroring apiserver's
    ``transformDecodeError``. Raises :class:`kubesim.errors.StatusError`:
    400 BadRequest for malformed bodies (same wording as kube-apiserver),
    415 UnsupportedMediaType for kinds kubesim has no protobuf table for
    (custom resources, whose real servers do not accept protobuf either).
    """
    target = expected_kind or "Unknown"
    if not body:
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {target}): empty data (<empty>)")
    if not body.startswith(MAGIC):
        raise errors.bad_request(
            f"the object provided is unrecognized (must be of type {target}): provided data does not appear "
            f"to be a protobuf message, expected prefix [107 56 115 0] ({_summarize(body)})"
        )
    if len(body) == len(MAGIC):
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {target}): empty body ({_summarize(body)})")
    try:
        api_version, kind, raw, content_type = _unwrap(body[len(MAGIC):])
    except ProtobufError as exc:
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {target}): {exc} ({_summarize(body)})") from None
    if not kind:
        raise errors.bad_request(f"Object 'Kind' is missing in '{_summarize(body)}'")
    if not api_version:
        raise errors.bad_request(f"Object 'apiVersion' is missing in '{_summarize(body)}'")
    version = api_version.rpartition("/")[2]
    if content_type and content_type != CONTENT_TYPE:
        # runtime.Unknown may carry a JSON payload (contentType set); accept it as JSON.
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {expected_kind or kind}: {exc}') from None
        if not isinstance(obj, dict):
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {expected_kind or kind}: not an object')
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        return obj
    type_name = message_type(api_version, kind)
    if type_name is None:
        if not any(name.startswith(proto_package(api_version) + ".") for name in _messages()):
            raise unsupported_media_type()
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {expected_kind or kind}: no kind "{kind}" is '
            f'registered for version "{api_version}" in scheme "pkg/api/legacyscheme/scheme.go:30"'
        )
    try:
        fields = decode_message(type_name, raw)
    except ProtobufError as exc:
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {expected_kind or kind}: {exc}') from None
    obj = {"kind": kind, "apiVersion": api_version}
    obj.update(fields)
    return obj


def _unwrap(data: bytes) -> tuple[str, str, bytes, str]:
    """Parse runtime.Unknown: returns (apiVersion, kind, raw, contentType)."""
    api_version = kind = content_type = ""
    raw = b""
    for number, wire, value in iter_fields(data):
        if number == 1 and wire == _WIRE_LEN:
            for tnum, twire, tval in iter_fields(value):
                if tnum == 1 and twire == _WIRE_LEN:
                    api_version = tval.decode("utf-8", "replace")
                elif tnum == 2 and twire == _WIRE_LEN:
                    kind = tval.decode("utf-8", "replace")
        elif number == 2 and wire == _WIRE_LEN:
            raw = bytes(value)
        elif number == 4 and wire == _WIRE_LEN:
            content_type = value.decode("utf-8", "replace")
    return api_version, kind, raw, content_type


# ---------------------------------------------------------------------------
# Regenerating the field table from a kubectl binary
# ---------------------------------------------------------------------------

# Packages whose kinds kubesim decodes; everything they reference is pulled in.
_ROOT_PACKAGES = (
    "k8s.io.api.core.v1",
    "k8s.io.api.apps.v1",
    "k8s.io.api.rbac.v1",
    "k8s.io.api.networking.v1",
    "k8s.io.api.certificates.v1",
    "k8s.io.api.authorization.v1",
    "k8s.io.api.authentication.v1",
    "k8s.io.api.policy.v1",
    "k8s.io.api.batch.v1",
)
_ROOT_META = ("DeleteOptions", "Status", "ListOptions", "GetOptions", "CreateOptions", "UpdateOptions", "PatchOptions")


def _parse_descriptor(blob: bytes) -> tuple[str, dict]:
    """FileDescriptorProto -> (package, {full message name: field tuple})."""
    package = ""
    messages: dict = {}

    def walk(prefix: str, payload: bytes):
        name = ""
        fields = []
        nested = []
        is_map = False
        for number, _wire, value in iter_fields(payload):
            if number == 1:
                name = value.decode()
            elif number == 2:
                fields.append(value)
            elif number == 3:
                nested.append(value)
            elif number == 7:  # MessageOptions
                for onum, _, oval in iter_fields(value):
                    if onum == 7 and oval:
                        is_map = True
        full = f"{prefix}.{name}"
        table = []
        for raw in fields:
            fname = ""
            fnumber = ftype = label = 0
            ref = ""
            pointer = True
            for n, _w, v in iter_fields(raw):
                if n == 1:
                    fname = v.decode()
                elif n == 3:
                    fnumber = v
                elif n == 4:
                    label = v
                elif n == 5:
                    ftype = v
                elif n == 6:
                    ref = v.decode().lstrip(".")
                elif n == 8:  # FieldOptions: gogoproto.nullable = 65001
                    for on, _, ov in iter_fields(v):
                        if on == 65001 and ov == 0:
                            pointer = False
            table.append([fnumber, fname, ftype, ref, label, pointer])
        messages[full] = (table, is_map)
        for item in nested:
            walk(full, item)

    message_blobs = []
    for number, _wire, value in iter_fields(blob):
        if number == 2:
            package = value.decode()
        elif number == 4:
            message_blobs.append(value)
    for item in message_blobs:
        walk(package, item)
    return package, messages


def extract_descriptors(binary: bytes) -> dict[str, bytes]:
    """Find the gzipped ``generated.proto`` FileDescriptorProtos that gogo-protobuf compiles into Go binaries."""
    found = {}
    start = 0
    marker = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
    while True:
        idx = binary.find(marker, start)
        if idx < 0:
            return found
        start = idx + 1
        try:
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[idx:idx + 1_000_000])
        except zlib.error:
            continue
        if len(out) > 2 and out[0] == 0x0A and b"generated.proto" in out[: 2 + out[1]]:
            found[out[2:2 + out[1]].decode()] = out


def _json_definition(definitions: dict, proto_name: str) -> dict | None:
    """The OpenAPI definition of a proto message ("k8s.io.api.core.v1.Pod" -> "io.k8s.api.core.v1.Pod")."""
    if not definitions or not proto_name.startswith("k8s.io."):
        return None
    return definitions.get("io.k8s." + proto_name[len("k8s.io."):])


def build_schema(descriptors: dict[str, bytes], definitions: dict | None = None) -> dict:
    """The closure of message tables reachable from kubesim's root packages.

    ``definitions`` (OpenAPI/JSON-schema definitions keyed like
    ``io.k8s.api.core.v1.Pod``) fix up what the descriptors cannot tell:
    embedded structs (a message-typed field that is not a JSON property of
    its parent is ``json:",inline"``) and proto names that differ from the
    JSON names (``aPIGroup`` -> ``apiGroup``).
    """
    every: dict = {}
    for blob in descriptors.values():
        _, messages = _parse_descriptor(blob)
        every.update(messages)
    roots = [name for name in every if name.rsplit(".", 1)[0] in _ROOT_PACKAGES]
    roots += [_META + kind for kind in _ROOT_META if _META + kind in every]
    schema: dict = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in schema or name in _SPECIAL or _is_string_slice(name):
            continue
        table, _ = every[name]
        definition = _json_definition(definitions or {}, name)
        properties = (definition or {}).get("properties")
        rows = []
        for fnumber, fname, ftype, ref, label, pointer in table:
            flags = 0
            if properties is not None and fname not in properties:
                by_lower = {key.lower(): key for key in properties}
                if fname.lower() in by_lower:
                    fname = by_lower[fname.lower()]
                elif ftype == T_MESSAGE and label != 3:
                    flags |= F_INLINE
                    rows.append((fnumber, fname, ftype, ref, flags))
                    pending.append(ref)
                    continue
            if label == 3:
                flags |= F_REPEATED
            if ref and every.get(ref, ((), False))[1]:
                flags = F_MAP
            elif pointer and label != 3:
                flags |= F_POINTER
            rows.append((fnumber, fname, ftype, ref, flags))
            if ref and ref not in schema:
                pending.append(ref)
        schema[name] = tuple(rows)
    return dict(sorted(schema.items()))


def render_schema(schema: dict, source: str) -> str:
    """Python source for :mod:`kubesim.protobuf_schema`."""
    lines = [
        '"""Protobuf field tables for the Kubernetes types kubesim decodes.',
        "",
        f"GENERATED by ``python -m kubesim.protobuf {source}`` from the FileDescriptorProtos",
        "compiled into that kubectl binary. Do not edit by hand: regenerate.",
        "",
        "Each message maps to ``(number, json_name, descriptor_type, type_ref, flags)`` rows;",
        "see kubesim.protobuf for the flag bits.",
        '"""',
        "",
        "# fmt: off",
        "MESSAGES = {",
    ]
    for name, rows in schema.items():
        lines.append(f"    {name!r}: (")
        for row in rows:
            lines.append(f"        {row!r},")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _load_definitions(version: str) -> dict:
    """JSON-schema definitions shipped by the kubernetes-validate dev dependency."""
    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{version}.0-local" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


def main(argv: list[str] | None = None) -> int:
    """``python -m kubesim.protobuf KUBECTL_BINARY [K8S_MINOR]``: regenerate kubesim/protobuf_schema.py.

    K8S_MINOR (default 1.33) picks the kubernetes-validate JSON schemas used
    to detect inline structs; match it to the kubectl binary's version.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print("usage: python -m kubesim.protobuf /path/to/kubectl [1.33]", file=sys.stderr)
        return 2
    descriptors = extract_descriptors(Path(argv[0]).read_bytes())
    if not descriptors:
        print(f"no generated.proto descriptors found in {argv[0]}", file=sys.stderr)
        return 1
    schema = build_schema(descriptors, _load_definitions(argv[1] if len(argv) == 2 else "1.33"))
    target = Path(__file__).with_name("protobuf_schema.py")
    target.write_text(render_schema(schema, Path(argv[0]).name))
    print(f"wrote {len(schema)} message tables from {len(descriptors)} descriptors to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
