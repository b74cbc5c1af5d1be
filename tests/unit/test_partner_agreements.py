"""The bilateral agreements: the checked-in lists, what the loader refuses, and what minimise() lets leave."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from smartgate import partner
from smartgate.domain.gates import default_gates
from smartgate.partner import (
    Agreement,
    NotInAgreement,
    default_agreements,
    driver_paths,
    field_paths,
    load_agreements,
    minimise,
    minimise_and_sign,
    recognised_inspection,
    sign,
)
from smartgate.partner.examples import (
    CAPACITY_PUBLISHED,
    EXAMPLE_KEY_ID,
    EXAMPLE_PRIVATE_KEY,
    EXAMPLE_PUBLIC_KEYS,
    EXAMPLES,
    EXPECTED_ARRIVAL,
    VEHICLE_CLEARED,
)
from smartgate.schemas.partner import ExpectedArrival, Inspection, PartnerEvent, VehicleCleared

IDS = [str(e.schema_version) for e in EXAMPLES]  # type: ignore[attr-defined]
DRIVER = {"driver_name": "Nguyễn Văn Hùng", "driver_document_no": "B1234567"}
COMMON = "event_id, from_gate, to_gate, occurred_at, reference"
EXPECTED_REQUIRED = (
    f"{COMMON}, plate_text, country, container_nos, direction, slot_start, slot_end, goods.hs_code, "
    "goods.description, goods.quantity, goods.unit, goods.gross_kg, declared_gross_kg"
)


def with_driver(event: ExpectedArrival = EXPECTED_ARRIVAL) -> ExpectedArrival:
    return ExpectedArrival.model_validate({**event.model_dump(), **DRIVER})


def agreement_text(events: str, share_driver: bool = False, mutual: bool = False) -> str:
    return textwrap.dedent(
        f"""\
        agreements:
          test:
            gates: [kimthanh2, hekou]
            share_driver: {str(share_driver).lower()}
            mutual_recognition: {str(mutual).lower()}
            sends:
              kimthanh2:
        """
    ) + textwrap.indent(textwrap.dedent(events).rstrip("\n") + "\n", " " * 8)


def one(events: str, **kwargs: Any) -> Agreement:
    return load_agreements(agreement_text(events, **kwargs), "test").between("kimthanh2", "hekou")


def leaves(event: PartnerEvent, agreement: Agreement) -> dict[str, Any]:
    """What the partner gets: the signed payload, opened."""
    message = minimise_and_sign(event, agreement, EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)
    assert message == sign(minimise(event, agreement), EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)
    opened = partner.open(message, EXAMPLE_PUBLIC_KEYS, event.to_gate)
    assert message.jws.count(".") == 2
    return json.loads(partner.event_json(opened))


# ------------------------------------------------------------------------------- the checked-in agreements


def test_every_gate_with_a_partner_has_an_agreement_both_ways() -> None:
    agreements = default_agreements("local")
    gates = default_gates("local").gates  # the sandbox gate's pair (the partner simulator) included
    with_partner = {gate: spec.partner for gate, spec in gates.items() if spec.partner}

    assert with_partner == {"kimthanh2": "hekou", "mongcai": "dongxing", "sandbox": "sandboxcn", "twin": "twincn"}
    expected = sorted([*with_partner.items(), *((b, a) for a, b in with_partner.items())])
    assert agreements.pairs() == expected
    for gate, other in with_partner.items():
        assert agreements.partner_of(gate) == other


@pytest.mark.parametrize("pair", [("kimthanh2", "hekou"), ("mongcai", "dongxing")])
def test_checked_in_agreements_share_no_driver_data_and_recognise_nothing_yet(pair: tuple[str, str]) -> None:
    for sender, receiver in (pair, pair[::-1]):
        agreement = default_agreements().between(sender, receiver)
        assert agreement.share_driver is False
        assert agreement.mutual_recognition is False
        assert set(agreement.events) == set(partner.EVENT_TYPES)
        assert not agreement.events["ExpectedArrival.v1"] & driver_paths(ExpectedArrival)


@pytest.mark.parametrize("event", EXAMPLES, ids=IDS)
def test_every_example_passes_its_agreement_whole_but_for_driver_data(event: PartnerEvent) -> None:
    agreement = default_agreements().between(event.from_gate, event.to_gate)
    assert minimise(event, agreement) == event


def test_driver_data_never_leaves_under_the_checked_in_agreements() -> None:
    event = with_driver()
    sent = leaves(event, default_agreements().between("kimthanh2", "hekou"))

    assert "driver_name" not in sent and "driver_document_no" not in sent
    assert DRIVER["driver_name"] not in json.dumps(sent, ensure_ascii=False)
    assert sent == json.loads(partner.event_json(EXPECTED_ARRIVAL))


# ------------------------------------------------------------------------------- minimise


def test_a_field_not_on_the_list_never_leaves() -> None:
    agreement = one(f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}]")
    sent = leaves(with_driver(), agreement)

    assert "trailer_plate" not in sent
    assert "origin" not in sent["goods"][0] and "perishable" not in sent["goods"][0]
    assert "24R-006.78" not in json.dumps(sent)
    assert set(sent) == {"schema", *(p for p in agreement.events["ExpectedArrival.v1"] if "." not in p)}


def test_driver_data_leaves_only_when_shared_and_listed() -> None:
    listed = f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, driver_name]"
    assert leaves(with_driver(), one(listed, share_driver=True))["driver_name"] == DRIVER["driver_name"]
    # shared but not listed: stays home
    sent = leaves(with_driver(), one(f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}]", share_driver=True))
    assert "driver_name" not in sent and "driver_document_no" not in sent


def test_driver_data_is_stripped_even_from_an_agreement_object_that_lists_it() -> None:
    # An Agreement built by hand (not through the loader) with driver_name listed and share_driver false
    shared = one(f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, driver_name]", share_driver=True)
    careless = Agreement(**{**shared.__dict__, "share_driver": False})
    assert "driver_name" not in leaves(with_driver(), careless)


def test_an_event_type_the_agreement_does_not_list_does_not_leave() -> None:
    agreement = one(f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}]")
    with pytest.raises(NotInAgreement, match=r"VehicleCleared.v1 may not be sent from kimthanh2 to hekou"):
        minimise(VEHICLE_CLEARED, agreement)


def test_an_event_for_another_pair_of_gates_is_refused() -> None:
    with pytest.raises(NotInAgreement, match="the event goes hekou -> kimthanh2"):
        minimise(CAPACITY_PUBLISHED, default_agreements().between("kimthanh2", "hekou"))
    with pytest.raises(NotInAgreement, match="no agreement lets kimthanh2 send to dongxing"):
        default_agreements().between("kimthanh2", "dongxing")


def test_stripped_lab_details_leave_a_valid_event_that_tells_less() -> None:
    agreement = one(
        f"VehicleCleared.v1: [{COMMON}, plate_text, country, container_nos, direction, channel, inspection, cleared_at]"
    )
    sent = leaves(VEHICLE_CLEARED, agreement)
    assert sent["inspection"] == "lab" and "lab_outcome" not in sent and "lab_tests" not in sent


# ------------------------------------------------------------------------------- the loader refuses


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            "ExpectedArrival.v1: [event_id, from_gate, to_gate, occurred_at, reference]",
            "the required field plate_text is not allowed",
        ),
        (
            f"ExpectedArrival.v1: [{EXPECTED_REQUIRED.replace('goods.hs_code, ', '')}]",
            "the required field goods.hs_code is not allowed",
        ),
        (f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, value]", "'value' is not a field of ExpectedArrival.v1"),
        (f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, goods]", "name the fields of 'goods'"),
        (f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, plate_text]", "a field is listed twice"),
        (
            f"ExpectedArrival.v1: [{EXPECTED_REQUIRED}, driver_name]",
            "driver_name is the driver's personal data and share_driver is false",
        ),
        ("VehicleInspected.v1: [event_id]", "unknown event type 'VehicleInspected.v1'"),
        ("VehicleCleared.v2: [event_id]", "unknown event type 'VehicleCleared.v2'"),
    ],
    ids=["required", "required-nested", "unknown-field", "nested-whole", "twice", "driver", "type", "version"],
)
def test_an_agreement_that_cannot_hold_is_refused_naming_what(events: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")) as err:
        load_agreements(agreement_text(events), "test.yaml")
    assert str(err.value).startswith("test.yaml: agreement test, kimthanh2 -> hekou")


def test_a_side_that_is_not_in_the_agreement_is_refused() -> None:
    text = agreement_text("{}").replace("      kimthanh2:", "      mongcai:")
    with pytest.raises(ValueError, match="'mongcai' is not one of the agreement's gates"):
        load_agreements(text)


def test_a_pair_covered_twice_is_refused() -> None:
    text = agreement_text(
        "CapacityPublished.v1: [event_id, from_gate, to_gate, occurred_at, direction, "
        "window_start, window_end, capacity]"
    )
    doubled = text + text.split("agreements:\n", 1)[1].replace("  test:", "  again:", 1)
    with pytest.raises(ValueError, match="another agreement already covers these gates"):
        load_agreements(doubled)


def test_unknown_keys_and_bad_yaml_are_refused() -> None:
    with pytest.raises(ValueError, match="share_drivers"):
        load_agreements(agreement_text("{}").replace("share_driver", "share_drivers"))
    with pytest.raises(ValueError, match="test"):
        load_agreements("agreements: [", "test")


def test_schema_is_always_sent_and_may_be_listed() -> None:
    listed = one(f"ExpectedArrival.v1: [schema, {EXPECTED_REQUIRED}]")
    assert leaves(EXPECTED_ARRIVAL, listed)["schema"] == "ExpectedArrival.v1"


def test_field_paths_are_dotted_for_goods_lines() -> None:
    paths = field_paths(ExpectedArrival)
    assert {"goods", "goods.hs_code", "goods.gross_kg", "goods.perishable"} <= set(paths)
    assert paths["goods.hs_code"].parent == "goods" and paths["goods.hs_code"].required
    assert not paths["goods.origin"].required
    assert "schema_version" not in paths and "goods.value" not in paths


# ------------------------------------------------------------------------------- mutual recognition


@pytest.mark.parametrize(
    ("inspection", "outcome", "recognised"),
    [
        ("lab", "pass", Inspection.LAB),
        ("lab", "fail", None),
        ("lab", None, None),
        ("physical", None, Inspection.PHYSICAL),
        ("documents", None, None),
        ("none", None, None),
    ],
)
def test_the_partners_inspection_counts_only_under_mutual_recognition(
    inspection: str, outcome: str | None, recognised: Inspection | None
) -> None:
    data = {**VEHICLE_CLEARED.model_dump(), "from_gate": "hekou", "to_gate": "kimthanh2"}
    data.update(inspection=inspection, lab_outcome=outcome, lab_tests=None)
    theirs = VehicleCleared.model_validate(data)
    listed = (
        "VehicleCleared.v1: [event_id, from_gate, to_gate, occurred_at, reference, plate_text, country, "
        "container_nos, direction, channel, inspection, lab_tests, lab_outcome, cleared_at]"
    )
    text = agreement_text(listed, mutual=True).replace("      kimthanh2:", "      hekou:")
    on = load_agreements(text).between("hekou", "kimthanh2")
    off = default_agreements().between("hekou", "kimthanh2")

    assert recognised_inspection(theirs, on) == recognised
    assert recognised_inspection(theirs, off) is None
    # an agreement for the other direction does not count
    assert recognised_inspection(theirs, default_agreements().between("kimthanh2", "hekou")) is None
