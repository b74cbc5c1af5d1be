"""The partner contract's models: valid examples, round trips, what they refuse, and what they never carry."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from smartgate.partner import EVENT_TYPES, event_json
from smartgate.partner.agreements import field_paths
from smartgate.partner.examples import (
    CAPACITY_PUBLISHED,
    CONSIGNMENT_HELD,
    EXAMPLES,
    EXPECTED_ARRIVAL,
    VEHICLE_CLEARED,
)
from smartgate.schemas.base import Contract
from smartgate.schemas.partner import (
    PARTNER_EVENTS,
    PARTNER_MODELS,
    PERSONAL_DATA,
    CapacityPublished,
    ConsignmentEvent,
    CrossBorderMessage,
    ExpectedArrival,
    PartnerEvent,
    VehicleCleared,
)

IDS = [str(m.model_fields["schema_version"].default) for m in PARTNER_EVENTS]

NEVER_SENT = re.compile(
    r"(price|value|currency|amount|invoice|trader|company|officer|tested_by|taken_by|risk|score|rule|fact"
    r"|ruleset|passage|lane|crop|evidence|phone|email|address|birth)",
    re.IGNORECASE,
)


def wire(event: PartnerEvent, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event_json(event))
    data.update(changes)
    return data


def test_one_example_per_event_type_in_order() -> None:
    assert [type(e) for e in EXAMPLES] == list(PARTNER_EVENTS)
    assert set(EVENT_TYPES) == set(IDS)
    assert len(set(IDS)) == len(IDS)
    for name in IDS:
        assert re.fullmatch(r"[A-Z][A-Za-z]+\.v[1-9][0-9]*", name)


@pytest.mark.parametrize("event", EXAMPLES, ids=IDS)
def test_example_round_trips_through_its_wire_form(event: PartnerEvent) -> None:
    # Given an event as it is signed (nulls left out)
    text = event_json(event)
    # When the other side parses it
    received = type(event).model_validate_json(text)
    # Then nothing is lost and "schema" names it
    assert received == event
    assert json.loads(text)["schema"] == str(event.schema_version)  # type: ignore[attr-defined]
    assert b"null" not in text


@pytest.mark.parametrize("model", PARTNER_MODELS, ids=[*IDS, "CrossBorderMessage.v1"])
def test_every_optional_field_defaults_to_none_so_stripping_never_makes_a_false_statement(
    model: type[Contract],
) -> None:
    for path, field in field_paths(model).items():
        if field.required:
            continue
        owner: type[BaseModel] = model
        for part in path.split(".")[:-1]:
            owner = _nested(owner, part)
        info = owner.model_fields[path.split(".")[-1]]
        assert info.default is None and info.default_factory is None, f"{model.__name__}.{path}"


def _nested(model: type[BaseModel], name: str) -> type[BaseModel]:
    from smartgate.partner.agreements import _submodel

    sub = _submodel(model.model_fields[name].annotation)
    assert sub is not None
    return sub


@pytest.mark.parametrize("model", PARTNER_MODELS, ids=[*IDS, "CrossBorderMessage.v1"])
def test_no_model_can_carry_prices_identities_or_our_risk_assessment(model: type[Contract]) -> None:
    leaking = [path for path in field_paths(model) if NEVER_SENT.search(path)]
    assert leaking == []


def test_driver_data_exists_only_as_optional_fields_marked_personal() -> None:
    personal = {path: f for path, f in field_paths(ExpectedArrival).items() if f.personal}
    assert set(personal) == {"driver_name", "driver_document_no"}
    assert all(not f.required and f.personal == "driver" for f in personal.values())
    schema = ExpectedArrival.model_json_schema(by_alias=True)
    assert schema["properties"]["driver_name"][PERSONAL_DATA] == "driver"
    for model in PARTNER_EVENTS:
        if model is not ExpectedArrival:
            assert "driver" not in " ".join(field_paths(model))


def test_consignment_events_carry_the_shared_reference_and_capacity_does_not() -> None:
    for model in PARTNER_EVENTS:
        assert ("reference" in model.model_fields) == issubclass(model, ConsignmentEvent)
    assert not issubclass(CapacityPublished, ConsignmentEvent)


@pytest.mark.parametrize("event", EXAMPLES, ids=IDS)
@pytest.mark.parametrize("field", ["event_id", "from_gate", "to_gate", "occurred_at"])
def test_common_fields_are_required(event: PartnerEvent, field: str) -> None:
    data = wire(event)
    del data[field]
    with pytest.raises(ValidationError) as err:
        type(event).model_validate(data)
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


@pytest.mark.parametrize("event", EXAMPLES, ids=IDS)
def test_unknown_fields_and_naive_times_are_refused(event: PartnerEvent) -> None:
    with pytest.raises(ValidationError) as err:
        type(event).model_validate(wire(event, risk_score=12))
    assert [e["type"] for e in err.value.errors()] == ["extra_forbidden"]
    with pytest.raises(ValidationError) as err:
        type(event).model_validate(wire(event, occurred_at="2026-11-03T02:41:03"))
    assert [e["type"] for e in err.value.errors()] == ["timezone_aware"]


def test_times_are_kept_in_utc() -> None:
    event = VehicleCleared.model_validate(wire(VEHICLE_CLEARED, cleared_at="2026-11-03T09:40:55+07:00"))
    assert event.cleared_at == VEHICLE_CLEARED.cleared_at
    assert json.loads(event_json(event))["cleared_at"] == "2026-11-03T02:40:55Z"


def test_a_gate_does_not_send_to_itself() -> None:
    with pytest.raises(ValidationError, match="to_gate: a gate does not send to itself"):
        VehicleCleared.model_validate(wire(VEHICLE_CLEARED, to_gate="kimthanh2"))


def test_container_numbers_need_their_check_digit() -> None:
    with pytest.raises(ValidationError) as err:
        ExpectedArrival.model_validate(wire(EXPECTED_ARRIVAL, container_nos=["CSQU3054384"]))
    assert err.value.errors()[0]["loc"] == ("container_nos", 0)
    spaced = ExpectedArrival.model_validate(wire(EXPECTED_ARRIVAL, container_nos=["csqu 305438 3"]))
    assert spaced.container_nos == ["CSQU3054383"]


def test_hs_codes_are_digits_of_a_heading_or_more() -> None:
    good = wire(EXPECTED_ARRIVAL)
    good["goods"][0]["hs_code"] = "0810.90"
    assert ExpectedArrival.model_validate(good).goods[0].hs_code == "081090"
    bad = wire(EXPECTED_ARRIVAL)
    bad["goods"][0]["hs_code"] = "08A"
    with pytest.raises(ValidationError) as err:
        ExpectedArrival.model_validate(bad)
    assert err.value.errors()[0]["loc"] == ("goods", 0, "hs_code")


def test_goods_lines_carry_no_value() -> None:
    data = wire(EXPECTED_ARRIVAL)
    data["goods"][0]["value"] = 18500
    with pytest.raises(ValidationError) as err:
        ExpectedArrival.model_validate(data)
    assert err.value.errors()[0]["loc"] == ("goods", 0, "value")


def test_slot_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="slot_end: must be after slot_start"):
        ExpectedArrival.model_validate(wire(EXPECTED_ARRIVAL, slot_end="2026-11-03T02:30:00Z"))


def test_lab_outcome_and_tests_only_with_a_lab_inspection() -> None:
    with pytest.raises(ValidationError, match="lab_outcome: only with inspection lab"):
        VehicleCleared.model_validate(wire(VEHICLE_CLEARED, inspection="physical"))
    with pytest.raises(ValidationError, match="lab_tests: only with inspection lab"):
        VehicleCleared.model_validate(
            {k: v for k, v in wire(VEHICLE_CLEARED, inspection="documents").items() if k != "lab_outcome"}
        )
    # a lab inspection whose outcome is not told (stripped by an agreement) is still valid
    told_less = {k: v for k, v in wire(VEHICLE_CLEARED).items() if k not in ("lab_outcome", "lab_tests")}
    assert VehicleCleared.model_validate(told_less).lab_outcome is None


@pytest.mark.parametrize("inspection", ["none", "documents", "physical", "lab"])
def test_every_inspection_kind_is_accepted(inspection: str) -> None:
    data = {
        k: v for k, v in wire(VEHICLE_CLEARED, inspection=inspection).items() if k not in ("lab_outcome", "lab_tests")
    }
    assert VehicleCleared.model_validate(data).inspection == inspection


@pytest.mark.parametrize("reason", ["documents", "inspection", "lab", "security", "capacity", "other"])
def test_hold_reasons(reason: str) -> None:
    assert type(CONSIGNMENT_HELD).model_validate(wire(CONSIGNMENT_HELD, reason_code=reason)).reason_code == reason
    with pytest.raises(ValidationError):
        type(CONSIGNMENT_HELD).model_validate(wire(CONSIGNMENT_HELD, reason_code="bribe"))


def test_capacity_is_one_quarter_hour_window_and_never_negative() -> None:
    start = CAPACITY_PUBLISHED.window_start
    assert CapacityPublished.model_validate(wire(CAPACITY_PUBLISHED, capacity=0)).capacity == 0
    with pytest.raises(ValidationError):
        CapacityPublished.model_validate(wire(CAPACITY_PUBLISHED, capacity=-1))
    off_grid = (start + timedelta(minutes=5)).isoformat()
    with pytest.raises(ValidationError, match="window_start: must be on a quarter hour"):
        CapacityPublished.model_validate(
            wire(CAPACITY_PUBLISHED, window_start=off_grid, window_end=(start + timedelta(minutes=20)).isoformat())
        )
    with pytest.raises(ValidationError, match="window_end: must be 15 minutes after window_start"):
        CapacityPublished.model_validate(
            wire(CAPACITY_PUBLISHED, window_end=(start + timedelta(minutes=30)).isoformat())
        )
    # a window given in Hanoi time is the same window
    hanoi = wire(CAPACITY_PUBLISHED, window_start="2026-11-03T13:00:00+07:00", window_end="2026-11-03T13:15:00+07:00")
    assert CapacityPublished.model_validate(hanoi) == CAPACITY_PUBLISHED


def test_envelope_type_must_look_like_a_versioned_type() -> None:
    data = {"schema": "CrossBorderMessage.v1", "message_id": "m-1", "from_gate": "a", "to_gate": "b", "jws": "a.b.c"}
    assert CrossBorderMessage.model_validate({**data, "type": "VehicleCleared.v1"}).type == "VehicleCleared.v1"
    for bad in ["VehicleCleared", "VehicleCleared.v0", "vehicleCleared.v1", "VehicleCleared.v1 "]:
        with pytest.raises(ValidationError):
            CrossBorderMessage.model_validate({**data, "type": bad})
