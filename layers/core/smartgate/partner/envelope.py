"""Signing and opening cross-border messages.

A partner event travels as the ``detail`` of an EventBridge event (``source`` ``smartgate.partner.<from
gate>``, ``detail-type`` the event's type, e.g. ``VehicleCleared.v1``): a :class:`CrossBorderMessage`
whose ``jws`` is a compact JWS with the header
``{"alg":"EdDSA","kid":<key id>,"typ":"smartgate-partner+jws","cty":<type>}`` over the event's JSON.

:func:`open` checks, in this order, and refuses with the first :class:`RefusalCode` that applies:
the envelope (``malformed``, ``unknown_type_or_version`` for another envelope version), the JWS
(``malformed``), the key id (``unknown_key``), the signature (``bad_signature``), the signed payload
(``malformed``), the type in the JWS header, the envelope and the payload's ``schema`` (``type_mismatch``),
whether the type is one this contract knows (``unknown_type_or_version``), the event itself
(``schema_invalid``, naming the field), whether it is for us (``wrong_recipient``), from whom it claims
to be (``wrong_sender``) and whether the envelope repeats the signed event faithfully
(``envelope_mismatch``). Nothing in the payload is trusted before the signature is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from smartgate.partner.jws import ALG, JwsError, parse_compact, sign_compact
from smartgate.schemas.partner import MAX_JWS_CHARS, PARTNER_EVENTS, CrossBorderMessage, PartnerEvent

CONTRACT_VERSION = "1.0.0"
"""The published contract's version (the AsyncAPI ``info.version``): minor for a new optional field or a
new message version, major when a version is retired."""
TYP = "smartgate-partner+jws"
ENVELOPE = "CrossBorderMessage.v1"
SOURCE_PREFIX = "smartgate.partner."

EVENT_TYPES: dict[str, type[PartnerEvent]] = {
    str(model.model_fields["schema_version"].default): model for model in PARTNER_EVENTS
}
"""``VehicleCleared.v1`` -> the model: every type :func:`open` accepts."""


class RefusalCode(StrEnum):
    """Why an inbound message was refused: the dead-letter queue records it."""

    MALFORMED = "malformed"
    UNKNOWN_TYPE_OR_VERSION = "unknown_type_or_version"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    TYPE_MISMATCH = "type_mismatch"
    SCHEMA_INVALID = "schema_invalid"
    WRONG_RECIPIENT = "wrong_recipient"
    WRONG_SENDER = "wrong_sender"
    ENVELOPE_MISMATCH = "envelope_mismatch"


class PartnerMessageRefused(ValueError):
    """An inbound message that is not accepted: ``reason_code``, a ``detail`` for the dead-letter record
    and, for ``schema_invalid``, the ``field`` path (``goods.0.hs_code``)."""

    def __init__(self, reason_code: RefusalCode, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason_code.value}: {detail}")
        self.reason_code = reason_code
        self.detail = detail
        self.field = field


def partner_source(from_gate: str) -> str:
    """The EventBridge ``source`` of a cross-border event: ``smartgate.partner.kimthanh2``."""
    return f"{SOURCE_PREFIX}{from_gate}"


def message_type(event: PartnerEvent) -> str:
    """``VehicleCleared.v1``: the envelope's ``type``, the JWS ``cty`` and the EventBridge ``detail-type``."""
    return str(event.schema_version)  # type: ignore[attr-defined]


def event_json(event: PartnerEvent) -> bytes:
    """What is signed: the event's JSON, fields that are None left out ("not told")."""
    return event.model_dump_json(exclude_none=True).encode()


def sign(event: PartnerEvent, key_id: str, private_key: Ed25519PrivateKey) -> CrossBorderMessage:
    """The envelope of ``event`` signed with ``private_key`` under ``key_id``. Minimise the event to the
    agreement first (:func:`smartgate.partner.minimise`): what is signed is what leaves."""
    kind = message_type(event)
    if EVENT_TYPES.get(kind) is not type(event):
        raise ValueError(f"{type(event).__name__} is not an event of the partner contract")
    if not key_id or any(ch in key_id for ch in ",= ") or len(key_id) > 64:
        raise ValueError(f"key_id {key_id!r}: 1 to 64 characters, no ',', '=' or space (the key list format)")
    header = {"alg": ALG, "kid": key_id, "typ": TYP, "cty": kind}
    jws = sign_compact(header, event_json(event), private_key)
    if len(jws) > MAX_JWS_CHARS:
        raise ValueError(f"the signed {kind} is {len(jws)} characters; an EventBridge event holds {MAX_JWS_CHARS}")
    return CrossBorderMessage(
        message_id=event.event_id, type=kind, from_gate=event.from_gate, to_gate=event.to_gate, jws=jws
    )


def _envelope(message: CrossBorderMessage | Mapping[str, Any] | str | bytes) -> CrossBorderMessage:
    if isinstance(message, CrossBorderMessage):
        return message
    try:
        data = json.loads(message) if isinstance(message, str | bytes) else dict(message)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as err:
        raise PartnerMessageRefused(RefusalCode.MALFORMED, f"the message is not a JSON object: {err}") from err
    if not isinstance(data, dict):
        raise PartnerMessageRefused(RefusalCode.MALFORMED, "the message is not a JSON object")
    schema = data.get("schema")
    if schema is None:
        raise PartnerMessageRefused(RefusalCode.MALFORMED, "envelope schema: missing", "schema")
    if isinstance(schema, str) and schema.startswith("CrossBorderMessage.") and schema != ENVELOPE:
        raise PartnerMessageRefused(
            RefusalCode.UNKNOWN_TYPE_OR_VERSION, f"envelope {schema!r} is not known (this side reads {ENVELOPE})"
        )
    try:
        return CrossBorderMessage.model_validate(data)
    except ValidationError as err:
        field, text = _first_error(err)
        raise PartnerMessageRefused(RefusalCode.MALFORMED, f"envelope {text}", field) from err


def _first_error(err: ValidationError) -> tuple[str, str]:
    """(field path, "path: message; ...") of a validation error. A model-level check names its field at
    the start of its message (``slot_end: must be after slot_start``)."""
    items: list[tuple[str, str]] = []
    for error in err.errors():
        path = ".".join(str(part) for part in error["loc"])
        text = str(error["msg"]).removeprefix("Value error, ")
        if not path and ": " in text and " " not in text.split(": ", 1)[0]:
            path, text = text.split(": ", 1)
        items.append((path or "(event)", text))
    shown = "; ".join(f"{path}: {text}" for path, text in items[:3])
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    return items[0][0], shown + more


def open(  # noqa: A001 - the contract's name for it; call it as partner.open
    message: CrossBorderMessage | Mapping[str, Any] | str | bytes,
    public_keys: Mapping[str, Ed25519PublicKey],
    expected_to_gate: str,
    expected_from_gate: str | None = None,
) -> PartnerEvent:
    """The validated event inside ``message`` (an envelope, the EventBridge ``detail`` as a dict, or its
    JSON), or :class:`PartnerMessageRefused`. ``public_keys`` are the sender's published keys by key id
    (``smartgate.keys.public_keys_from``): pass only the keys of the partner named by
    ``expected_from_gate`` (or by the envelope's ``from_gate``), so one partner cannot speak for another."""
    envelope = _envelope(message)
    try:
        compact = parse_compact(envelope.jws)
    except JwsError as err:
        raise PartnerMessageRefused(RefusalCode(err.reason), err.detail) from err
    header = compact.header
    if header.get("typ") != TYP:
        raise PartnerMessageRefused(RefusalCode.MALFORMED, f"JWS typ {header.get('typ')!r} is not {TYP!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise PartnerMessageRefused(RefusalCode.MALFORMED, "the JWS header names no kid")
    key = public_keys.get(kid)
    if key is None:
        known = ", ".join(sorted(public_keys)) or "none"
        raise PartnerMessageRefused(RefusalCode.UNKNOWN_KEY, f"kid {kid!r} is not a published key (known: {known})")
    try:
        compact.verify(key)
    except JwsError as err:
        raise PartnerMessageRefused(RefusalCode.BAD_SIGNATURE, err.detail) from err

    try:
        payload = json.loads(compact.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PartnerMessageRefused(RefusalCode.MALFORMED, f"the signed payload is not JSON: {err}") from err
    if not isinstance(payload, dict):
        raise PartnerMessageRefused(RefusalCode.MALFORMED, "the signed payload is not a JSON object")
    kinds = {"JWS cty": header.get("cty"), "envelope type": envelope.type, "payload schema": payload.get("schema")}
    if len({repr(kind) for kind in kinds.values()}) != 1:
        shown = ", ".join(f"{label} {kind!r}" for label, kind in kinds.items())
        raise PartnerMessageRefused(RefusalCode.TYPE_MISMATCH, f"they must agree: {shown}")
    model = EVENT_TYPES.get(envelope.type)
    if model is None:
        known = ", ".join(sorted(EVENT_TYPES))
        raise PartnerMessageRefused(
            RefusalCode.UNKNOWN_TYPE_OR_VERSION, f"{envelope.type!r} is not in the contract (known: {known})"
        )
    try:
        event = model.model_validate_json(compact.payload)
    except ValidationError as err:
        field, text = _first_error(err)
        raise PartnerMessageRefused(RefusalCode.SCHEMA_INVALID, f"{envelope.type} {text}", field) from err

    for label, gate in (("envelope", envelope.to_gate), ("signed event", event.to_gate)):
        if gate != expected_to_gate:
            raise PartnerMessageRefused(
                RefusalCode.WRONG_RECIPIENT, f"the {label} is for {gate!r}, this is {expected_to_gate!r}"
            )
    if expected_from_gate is not None and event.from_gate != expected_from_gate:
        raise PartnerMessageRefused(
            RefusalCode.WRONG_SENDER, f"the signed event is from {event.from_gate!r}, expected {expected_from_gate!r}"
        )
    if envelope.from_gate != event.from_gate or envelope.message_id != event.event_id:
        raise PartnerMessageRefused(
            RefusalCode.ENVELOPE_MISMATCH,
            f"the envelope says {envelope.from_gate}/{envelope.message_id}, "
            f"the signed event {event.from_gate}/{event.event_id}",
        )
    return event


open_message = open
"""The same as :func:`open`, for a caller that would rather not shadow the builtin."""


def put_events_entry(message: CrossBorderMessage, event_bus_name: str) -> dict[str, str]:
    """The EventBridge ``PutEvents`` entry that carries ``message`` (the adapter sends it as it is)."""
    return {
        "Source": partner_source(message.from_gate),
        "DetailType": message.type,
        "Detail": message.model_dump_json(),
        "EventBusName": event_bus_name,
    }


def open_event(
    event: Mapping[str, Any],
    public_keys: Mapping[str, Ed25519PublicKey],
    expected_to_gate: str,
    expected_from_gate: str | None = None,
) -> PartnerEvent:
    """:func:`open` for a whole EventBridge event as a rule delivers it (``source``, ``detail-type``,
    ``detail``): its ``detail-type`` must be the envelope's type and its ``source`` the envelope's sender."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping | str):
        raise PartnerMessageRefused(RefusalCode.MALFORMED, "the EventBridge event has no detail object")
    envelope = _envelope(detail)
    if event.get("detail-type") != envelope.type:
        raise PartnerMessageRefused(
            RefusalCode.TYPE_MISMATCH,
            f"they must agree: detail-type {event.get('detail-type')!r}, envelope type {envelope.type!r}",
        )
    if event.get("source") != partner_source(envelope.from_gate):
        raise PartnerMessageRefused(
            RefusalCode.ENVELOPE_MISMATCH,
            f"source {event.get('source')!r} is not {partner_source(envelope.from_gate)!r}",
        )
    return open(envelope, public_keys, expected_to_gate, expected_from_gate)
