"""The partner gate exchange: the open, versioned, signed contract with the gate across the border.

Pure code, no AWS: the events are the models in ``smartgate.schemas.partner``; this package signs and
opens them (:func:`sign`, :func:`open`: a compact JWS, EdDSA / Ed25519, inside a ``CrossBorderMessage.v1``
envelope, the EventBridge ``detail``), keeps them to the bilateral agreement (:func:`minimise`, the
allow-lists in ``smartgate/data/partner.yaml``), checks that a published version keeps its meaning
(``compat``) and writes the published contract (``python -m smartgate.partner.asyncapi``).

Sending: ``message = minimise_and_sign(event, default_agreements().between(us, partner), key_id,
private_key)`` (:func:`minimise`, then :func:`sign`), then ``put_events_entry(message, bus)``.
Receiving: ``event = open_event(eventbridge_event, partner_keys, us, partner)``; a
:class:`PartnerMessageRefused` carries the reason for the dead-letter queue. Call ``open`` as
``partner.open`` (the contract's name for it; ``open_message`` is the same function).
"""

from __future__ import annotations

from smartgate.partner.agreements import (
    Agreement,
    Agreements,
    NotInAgreement,
    default_agreements,
    driver_paths,
    field_paths,
    load_agreements,
    minimise,
    minimise_and_sign,
    recognised_inspection,
)
from smartgate.partner.envelope import (
    CONTRACT_VERSION,
    EVENT_TYPES,
    SOURCE_PREFIX,
    TYP,
    PartnerMessageRefused,
    RefusalCode,
    event_json,
    message_type,
    open,
    open_event,
    open_message,
    partner_source,
    put_events_entry,
    sign,
)

__all__ = [
    "Agreement",
    "Agreements",
    "CONTRACT_VERSION",
    "EVENT_TYPES",
    "NotInAgreement",
    "PartnerMessageRefused",
    "RefusalCode",
    "SOURCE_PREFIX",
    "TYP",
    "default_agreements",
    "driver_paths",
    "event_json",
    "field_paths",
    "load_agreements",
    "message_type",
    "minimise",
    "minimise_and_sign",
    "open",
    "open_event",
    "open_message",
    "partner_source",
    "put_events_entry",
    "recognised_inspection",
    "sign",
]
