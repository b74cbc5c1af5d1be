"""The bilateral agreements: which events each gate sends its partner, and which fields of them.

``smartgate/data/partner.yaml`` holds one agreement per pair of gates (Kim Thanh II and Hekou, Mong Cai
and Dongxing). For each side it lists the events it sends and, per event, the fields allowed to leave:
an allow-list, so a field added to a model later stays home until both sides agree to list it. Nested
fields are dotted (``goods.hs_code``); ``schema`` always travels and is not listed.

The loader refuses an agreement that names an unknown event or field, that would strip a required field
(the event would not be valid on the other side), or that lists driver data while ``share_driver`` is
false. :func:`minimise` drops every field not allowed (and driver data unless ``share_driver``, whatever
the list says); :func:`recognised_inspection` says when the partner's inspection counts for ours
(``mutual_recognition``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartgate.partner.envelope import EVENT_TYPES, message_type, sign
from smartgate.schemas.base import Identifier
from smartgate.schemas.partner import PERSONAL_DATA, CrossBorderMessage, Inspection, PartnerEvent, VehicleCleared

ALWAYS_SENT = frozenset({"schema_version"})
E = TypeVar("E", bound=PartnerEvent)


class NotInAgreement(ValueError):
    """An event the agreement between these two gates does not let leave."""


# --------------------------------------------------------------------------- fields of a model


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``list[GoodsLine]``, ``GoodsLine | None`` ...; None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _submodel(get_args(annotation)[0])
    if origin in (list, tuple, Union, UnionType):
        for arg in get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class FieldPath:
    path: str
    required: bool
    """Required whenever its parent is present (a top-level field: always)."""
    parent: str | None
    personal: str | None
    """Whose personal data it holds (``driver``), from the model's ``x-personal-data`` annotation."""


def _walk(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[FieldPath, type[BaseModel] | None]]:
    for name, info in model.model_fields.items():
        if name in ALWAYS_SENT:
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        personal = extra.get(PERSONAL_DATA)
        path = f"{prefix}{name}"
        sub = _submodel(info.annotation)
        yield (
            FieldPath(path, info.is_required(), prefix.rstrip(".") or None, str(personal) if personal else None),
            sub,
        )
        if sub is not None:
            yield from _walk(sub, f"{path}.")


def field_paths(model: type[BaseModel]) -> dict[str, FieldPath]:
    """Every field of ``model`` by dotted path: ``plate_text``, ``goods``, ``goods.hs_code`` ..."""
    return {field.path: field for field, _ in _walk(model)}


def nested_paths(model: type[BaseModel]) -> set[str]:
    """The paths that hold models (``goods``): allowed by naming their fields, never as a whole."""
    return {field.path for field, sub in _walk(model) if sub is not None}


def driver_paths(model: type[BaseModel]) -> set[str]:
    return {field.path for field in field_paths(model).values() if field.personal == "driver"}


# --------------------------------------------------------------------------- the agreements


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BilateralAgreement(_Spec):
    gates: Annotated[list[Identifier], Field(min_length=2, max_length=2)]
    note: str = ""
    stages: list[str] | None = Field(None, description="only in these stages (None: every stage), as gates.yaml")
    share_driver: bool = Field(False, description="driver name and document may leave (when also listed)")
    mutual_recognition: bool = Field(
        False, description="each side's inspected-and-released consignments may lower the other's risk"
    )
    sends: dict[Identifier, dict[str, list[str]]] = Field(
        description="per sending gate: event type -> the fields allowed to leave"
    )

    @model_validator(mode="after")
    def _sides(self) -> BilateralAgreement:
        if self.gates[0] == self.gates[1]:
            raise ValueError("gates: two different gates")
        for gate in self.sends:
            if gate not in self.gates:
                raise ValueError(f"sends: {gate!r} is not one of the agreement's gates {self.gates}")
        return self


class AgreementsDocument(_Spec):
    agreements: dict[Identifier, BilateralAgreement]


@dataclass(frozen=True)
class Agreement:
    """One direction of a bilateral agreement: what ``from_gate`` may send ``to_gate``."""

    agreement_id: str
    from_gate: str
    to_gate: str
    share_driver: bool
    mutual_recognition: bool
    events: Mapping[str, frozenset[str]]
    """Event type -> the dotted paths allowed to leave."""

    def allows(self, event_type: str) -> bool:
        return event_type in self.events


class Agreements:
    """The agreements by pair of gates, each direction on its own."""

    def __init__(self, agreements: Mapping[tuple[str, str], Agreement]) -> None:
        self._by_pair = dict(agreements)

    def between(self, from_gate: str, to_gate: str) -> Agreement:
        """What ``from_gate`` may send ``to_gate``; :class:`NotInAgreement` when the gates have none."""
        found = self._by_pair.get((from_gate, to_gate))
        if found is None:
            pairs = ", ".join(f"{a}->{b}" for a, b in sorted(self._by_pair))
            raise NotInAgreement(f"no agreement lets {from_gate} send to {to_gate} (agreements: {pairs})")
        return found

    def partner_of(self, gate: str) -> str | None:
        """The gate ``gate`` exchanges with (each gate has one partner), or None."""
        return next((b for a, b in sorted(self._by_pair) if a == gate), None)

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._by_pair)


def _check_list(where: str, event_type: str, paths: list[str], share_driver: bool) -> frozenset[str]:
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise ValueError(f"{where}: unknown event type {event_type!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    known = field_paths(model)
    nested = nested_paths(model)
    listed = {path for path in paths if path != "schema"}
    if len(listed) != len([p for p in paths if p != "schema"]):
        raise ValueError(f"{where} {event_type}: a field is listed twice")
    for path in sorted(listed):
        if path not in known:
            raise ValueError(f"{where} {event_type}: {path!r} is not a field of {event_type}")
        if path in nested:
            raise ValueError(f"{where} {event_type}: name the fields of {path!r} ({path}.…), not {path!r} as a whole")
        if known[path].personal == "driver" and not share_driver:
            raise ValueError(f"{where} {event_type}: {path} is the driver's personal data and share_driver is false")
    present = set(listed)
    for path in listed:  # goods.hs_code brings goods along
        parent = known[path].parent
        while parent:
            present.add(parent)
            parent = known[parent].parent
    for path, field in known.items():
        parent_present = field.parent is None or field.parent in present
        if field.required and parent_present and path not in present:
            raise ValueError(
                f"{where} {event_type}: the required field {path} is not allowed "
                "(an agreement cannot strip a required field: the event would not be valid)"
            )
    return frozenset(present)


def load_agreements(text: str, source: str = "partner agreements", stage: str | None = None) -> Agreements:
    """Validate the agreements document; ValueError naming the agreement, side, event and field. With a
    ``stage``, only the agreements in force there (the sandbox pair exists in local and dev only)."""
    try:
        doc = AgreementsDocument.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as err:
        raise ValueError(f"{source}: {err}") from err
    found: dict[tuple[str, str], Agreement] = {}
    for agreement_id, spec in doc.agreements.items():
        if stage is not None and spec.stages is not None and stage not in spec.stages:
            continue
        for sender, events in spec.sends.items():
            receiver = next(g for g in spec.gates if g != sender)
            where = f"{source}: agreement {agreement_id}, {sender} -> {receiver}"
            if (sender, receiver) in found:
                raise ValueError(f"{where}: another agreement already covers these gates")
            found[(sender, receiver)] = Agreement(
                agreement_id=agreement_id,
                from_gate=sender,
                to_gate=receiver,
                share_driver=spec.share_driver,
                mutual_recognition=spec.mutual_recognition,
                events={kind: _check_list(where, kind, paths, spec.share_driver) for kind, paths in events.items()},
            )
    return Agreements(found)


@lru_cache(maxsize=4)
def default_agreements(stage: str = "prod") -> Agreements:
    """The checked-in agreements (``smartgate/data/partner.yaml``) in force in a stage (the published
    contract is prod's)."""
    text = resources.files("smartgate.data").joinpath("partner.yaml").read_text(encoding="utf-8")
    return load_agreements(text, "smartgate/data/partner.yaml", stage)


# --------------------------------------------------------------------------- minimisation


def _keep(data: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{prefix}{name}"
        if name in ALWAYS_SENT and not prefix:
            kept[name] = value
        elif path not in allowed:
            continue
        elif isinstance(value, dict):
            kept[name] = _keep(value, allowed, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            kept[name] = [_keep(item, allowed, f"{path}.") for item in value]
        else:
            kept[name] = value
    return kept


def minimise(event: E, agreement: Agreement) -> E:
    """``event`` with only the fields ``agreement`` lets leave (the others: None, "not told"); driver data
    only when the agreement shares it. :class:`NotInAgreement` for an event of another pair of gates or of
    a type the agreement does not list."""
    if (event.from_gate, event.to_gate) != (agreement.from_gate, agreement.to_gate):
        raise NotInAgreement(
            f"the event goes {event.from_gate} -> {event.to_gate}; the agreement {agreement.agreement_id} "
            f"is for {agreement.from_gate} -> {agreement.to_gate}"
        )
    kind = message_type(event)
    allowed = agreement.events.get(kind)
    if allowed is None:
        listed = ", ".join(sorted(agreement.events)) or "nothing"
        raise NotInAgreement(
            f"{kind} may not be sent from {agreement.from_gate} to {agreement.to_gate} "
            f"(agreement {agreement.agreement_id} lists {listed})"
        )
    if not agreement.share_driver:
        allowed = allowed - driver_paths(type(event))
    kept = _keep(event.model_dump(by_alias=False), allowed)
    return type(event).model_validate(kept)


def minimise_and_sign(
    event: PartnerEvent, agreement: Agreement, key_id: str, private_key: Ed25519PrivateKey
) -> CrossBorderMessage:
    """What leaves for the partner: ``event`` kept to ``agreement``, then signed (one call, so that no
    event is signed whole by mistake)."""
    return sign(minimise(event, agreement), key_id, private_key)


def recognised_inspection(event: VehicleCleared, agreement: Agreement) -> Inspection | None:
    """What the partner checked that counts for our side: its physical or (passed) lab inspection of a
    consignment it released, when the agreement has ``mutual_recognition``; None otherwise. ``agreement``
    is the direction the event came in (``between(partner, us)``)."""
    if not agreement.mutual_recognition or (event.from_gate, event.to_gate) != (agreement.from_gate, agreement.to_gate):
        return None
    if event.inspection == Inspection.PHYSICAL:
        return event.inspection
    if event.inspection == Inspection.LAB and event.lab_outcome == "pass":
        return event.inspection
    return None
