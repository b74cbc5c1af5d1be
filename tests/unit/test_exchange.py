"""What of ours the partner gate is told, and what its messages mean for our bookings (pure)."""

from __future__ import annotations

from datetime import timedelta

from domain_fixtures import T0, World, booking, consignment, container, plate, weight

from smartgate import keys, partner
from smartgate.domain.crossing import ingest_detection
from smartgate.domain.events import passage_events
from smartgate.domain.exchange import expected_arrival, passage_event, timeline_note
from smartgate.schemas import Channel, PassageStateChanged, PassageStatus
from smartgate.schemas.partner import (
    ConsignmentHeld,
    Inspection,
    ReasonCode,
    VehicleCleared,
    VehicleDeparted,
)

AGREEMENT = partner.default_agreements("local").between("sandbox", "sandboxcn")


def test_a_booking_becomes_an_expected_arrival_that_keeps_to_the_agreement() -> None:
    c = consignment()
    b = booking(c)
    event = expected_arrival(b, c, "sandbox", "sandboxcn", T0)
    assert event.reference == b.booking_id and event.plate_text == b.plate_text
    assert [g.hs_code for g in event.goods] == [g.hs_code for g in c.goods]
    again = expected_arrival(b, c, "sandbox", "sandboxcn", T0 + timedelta(minutes=5))
    assert again.event_id == event.event_id  # the same booking and slot: the partner keeps it once
    message = partner.minimise_and_sign(
        event, AGREEMENT, "k1", keys.private_key("c21hcnRnYXRlLXBhcnRuZXItZGV2LWtleS1vdXJzLTE=")
    )
    assert "driver" not in message.jws  # (base64url of the payload cannot spell it out either way: checked below)
    opened = partner.open(
        message, {"k1": keys.private_key("c21hcnRnYXRlLXBhcnRuZXItZGV2LWtleS1vdXJzLTE=").public_key()}, "sandboxcn"
    )
    assert opened.driver_name is None and opened.driver_document_no is None  # type: ignore[attr-defined]


def _decided(world: World, kg: float) -> tuple[object, list[PassageStateChanged]]:
    world.book(consignment())
    for d in (
        plate("24C-123.45", T0),
        container("MSKU6011672", T0 + timedelta(seconds=1)),
        weight(kg, T0 + timedelta(seconds=2)),
    ):
        ingest_detection(d, world.deps)
    [stored] = world.store.passages.values()
    return stored, [e for e in passage_events(None, stored, T0) if isinstance(e, PassageStateChanged)]


def test_a_released_booked_vehicle_is_told_as_cleared_with_what_we_checked() -> None:
    passage, events = _decided(World(), 35_400)
    released = next(e for e in events if e.to_status == PassageStatus.RELEASED)
    told = passage_event(released, passage, "sandbox", "sandboxcn")  # type: ignore[arg-type]
    assert isinstance(told, VehicleCleared)
    assert told.channel == Channel.GREEN and told.inspection == Inspection.NONE and told.reference == "BK-1"
    assert told.container_nos == ["MSKU6011672"]


def test_a_held_vehicle_is_told_as_held_and_nothing_of_our_rules_leaves() -> None:
    passage, events = _decided(World(), 41_000)  # weight off: held for documents
    held = next(e for e in events if e.to_status in (PassageStatus.HELD, PassageStatus.IN_INSPECTION))
    told = passage_event(held, passage, "sandbox", "sandboxcn")  # type: ignore[arg-type]
    assert isinstance(told, ConsignmentHeld) and told.reason_code in (ReasonCode.DOCUMENTS, ReasonCode.INSPECTION)
    assert "R-" not in told.model_dump_json()  # no rule ids, no risk scores


def test_the_partner_s_steps_become_timeline_entries_of_our_booking() -> None:
    cleared = VehicleCleared(
        event_id="cn-1",
        from_gate="sandboxcn",
        to_gate="sandbox",
        occurred_at=T0,
        reference="BK-1",
        plate_text="24C-123.45",
        country="VN",
        container_nos=["MSKU6011672"],
        direction="VN_TO_CN",
        channel="GREEN",
        inspection=Inspection.LAB,
        lab_tests=["phytosanitary"],
        lab_outcome="pass",
        cleared_at=T0,
    )
    note = timeline_note(cleared, "Hekou")
    assert note is not None and (note.booking_id, note.status) == ("BK-1", "partner_cleared")
    assert "lab tested" in note.detail and "pass" in note.detail
    left = VehicleDeparted(
        event_id="cn-2",
        from_gate="sandboxcn",
        to_gate="sandbox",
        occurred_at=T0,
        reference="BK-1",
        plate_text="24C-123.45",
        country="VN",
        container_nos=[],
        direction="VN_TO_CN",
        departed_at=T0,
    )
    assert timeline_note(left, "Hekou").status == "partner_departed"  # type: ignore[union-attr]


def test_an_unbooked_vehicle_is_not_told() -> None:
    passage, events = _decided(World(), 35_400)
    unbooked = events[0].model_copy(update={"booking_id": None})
    assert passage_event(unbooked, passage, "sandbox", "sandboxcn") is None  # type: ignore[arg-type]


def _lab_truck(world: World) -> object:
    for d in (
        plate("24C-123.45", T0),
        container("MSKU6011672", T0 + timedelta(seconds=1)),
        weight(35_400, T0 + timedelta(seconds=2)),
    ):
        ingest_detection(d, world.deps)
    [stored] = world.store.passages.values()
    return stored


def test_mutual_recognition_spares_a_second_lab_test_only_when_the_partner_s_lab_passed_it() -> None:
    from domain_fixtures import goods

    needs_lab = consignment(goods=[goods(needs_testing=["phytosanitary"])])
    plain = World()
    plain.book(needs_lab)
    assert _lab_truck(plain).channel == Channel.RED  # type: ignore[attr-defined]
    recognised = World()
    recognised.book(needs_lab, partner_inspection="lab")
    passage = _lab_truck(recognised)
    assert passage.channel == Channel.GREEN, passage.decision  # type: ignore[attr-defined]
    assert passage.decision.facts["partner.lab_passed"] is True  # type: ignore[attr-defined]


def test_the_agreement_decides_whether_a_partner_inspection_counts() -> None:
    cleared = VehicleCleared(
        event_id="cn-9",
        from_gate="sandboxcn",
        to_gate="sandbox",
        occurred_at=T0,
        reference="BK-1",
        plate_text="24C-123.45",
        country="VN",
        container_nos=["MSKU6011672"],
        direction="VN_TO_CN",
        channel="RED",
        inspection=Inspection.LAB,
        lab_tests=["phytosanitary"],
        lab_outcome="pass",
        cleared_at=T0,
    )
    off = partner.default_agreements("local").between("sandboxcn", "sandbox")
    assert off.mutual_recognition is False and partner.recognised_inspection(cleared, off) is None
