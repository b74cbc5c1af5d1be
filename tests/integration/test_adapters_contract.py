"""The same contract for each port's in-memory adapter and its DynamoDB adapter (against the emulator),
and two detections racing on one passage through the real DynamoDB store; the partner exchange table's
claim / done / forget, with its lease."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from domain_fixtures import T0, World, booking, consignment, container, plate, race, weight

from smartgate.adapters.memory import InMemoryAudit, InMemoryBookings, InMemoryPassageStore
from smartgate.adapters.partner import LEASE, Claim, DynamoExchange
from smartgate.domain.audit import GENESIS
from smartgate.domain.correlation import LaneTrack
from smartgate.domain.crossing import CrossingDeps, ingest_detection, passage_ref
from smartgate.domain.matching import fold_plate
from smartgate.domain.passages import bump
from smartgate.partner.examples import VEHICLE_CLEARED, example_message
from smartgate.ports import Conflict, DuplicateDetection, LaneCommit
from smartgate.schemas import AuditEntry, BookingStatus, Channel, Passage, PassageStatus, utc_now

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "dynamodb"])
def kind(request) -> str:  # type: ignore[no-untyped-def]
    return str(request.param)


@pytest.fixture
def bookings(kind, stack_client):  # type: ignore[no-untyped-def]
    return InMemoryBookings() if kind == "memory" else stack_client.bookings


@pytest.fixture
def store(kind, stack_client):  # type: ignore[no-untyped-def]
    return InMemoryPassageStore() if kind == "memory" else stack_client.passages


@pytest.fixture
def audit(kind, stack_client):  # type: ignore[no-untyped-def]
    return InMemoryAudit() if kind == "memory" else stack_client.audit


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_bookings_are_found_by_folded_plate_with_their_declaration(bookings) -> None:  # type: ignore[no-untyped-def]
    c = consignment(unique("C"), plate="云A·7B5Z9", country="CN")
    b = booking(c, unique("BK"))
    other_gate = booking(c, unique("BK"), gate_id="mongcai")
    cancelled = booking(c, unique("BK"), status=BookingStatus.CANCELLED)
    bookings.put(b, c)
    bookings.put(other_gate)
    bookings.put(cancelled, c)
    found = bookings.candidates("sandbox", fold_plate("云A·78529"))  # B/8 and Z/2 confused
    assert sorted(x.booking.booking_id for x in found) == sorted([b.booking_id, cancelled.booking_id])
    mine = next(x for x in found if x.booking.booking_id == b.booking_id)
    assert mine.consignment == c and mine.booking == b
    assert bookings.booked(other_gate.booking_id).consignment is None
    assert bookings.get(b.booking_id) == b and bookings.get("BK-none") is None
    assert bookings.candidates("sandbox", fold_plate("29C-000.01")) == []


def _new(lane: str) -> tuple[Passage, LaneTrack]:
    p = Passage(
        passage_id=unique("psg"),
        gate_id="sandbox",
        lane_id=lane,
        direction="VN_TO_CN",  # type: ignore[arg-type]
        status_at=T0,
        first_seen=T0,
        last_seen=T0,
        opened_at=T0,
    )
    return p, LaneTrack(gate_id="sandbox", lane_id=lane)


def test_a_commit_writes_detection_passage_and_lane_or_nothing(store) -> None:  # type: ignore[no-untyped-def]
    lane = unique("ln")
    p, track = _new(lane)
    d = plate("24C-123.45", lane=lane)
    new_track = track.with_ref(passage_ref(p), T0)
    store.commit(LaneCommit(d, p, None, new_track, 0))
    assert store.get(p.passage_id) == p
    assert store.lane("sandbox", lane).recent == new_track.recent and store.lane("sandbox", lane).version == 1
    record = store.detection(d.event_id)
    assert record is not None and (record.passage_id, record.handled) == (p.passage_id, False)
    # the same detection again: recognised, nothing written
    with pytest.raises(DuplicateDetection):
        store.commit(LaneCommit(d, bump(p), p.version, new_track.with_ref(passage_ref(p), T0), 1))
    # a stale lane version: a conflict, nothing written
    d2 = weight(35_000, lane=lane)
    with pytest.raises(Conflict):
        store.commit(LaneCommit(d2, bump(p), p.version, new_track, 0))
    # a stale passage version: a conflict too
    with pytest.raises(Conflict):
        store.commit(LaneCommit(d2, bump(p), p.version + 5, new_track.with_ref(passage_ref(p), T0), 1))
    assert store.detection(d2.event_id) is None and store.get(p.passage_id) == p
    store.mark_handled(d.event_id)
    assert store.detection(d.event_id).handled is True  # type: ignore[union-attr]


def test_a_save_needs_the_version_it_read(store) -> None:  # type: ignore[no-untyped-def]
    lane = unique("ln")
    p, track = _new(lane)
    store.commit(LaneCommit(plate("24C-123.45", lane=lane), p, None, track.with_ref(passage_ref(p), T0), 0))
    held = bump(p, status=PassageStatus.HELD)
    store.save(held, p.version)
    with pytest.raises(Conflict):
        store.save(bump(p, status=PassageStatus.RELEASED), p.version)
    assert store.get(p.passage_id) == held
    assert p.passage_id in [x.passage_id for x in store.in_status("sandbox", [PassageStatus.HELD])]
    assert p.passage_id not in [x.passage_id for x in store.in_status("sandbox", [PassageStatus.OPEN])]


def _entry(gate: str, seq: int, entry_id: str, prev: str = GENESIS) -> AuditEntry:
    return AuditEntry(
        gate_id=gate,
        seq=seq,
        entry_id=entry_id,
        kind="state",
        passage_id="psg-x",
        actor="clearance",
        at=T0,
        detail={"to": "HELD"},
        prev_hash=prev,
        hash=f"{seq:064d}",
    )


def test_the_audit_appends_each_entry_once_and_in_order(audit) -> None:  # type: ignore[no-untyped-def]
    gate = unique("gate")
    first = _entry(gate, 1, unique("e"))
    assert audit.append(first) is True
    assert audit.append(first) is False  # the same entry again: recorded once
    with pytest.raises(Conflict):
        audit.append(_entry(gate, 1, unique("e")))  # seq taken by another append
    second = _entry(gate, 2, unique("e"), first.hash)
    assert audit.append(second) is True
    assert audit.last(gate) == second
    assert audit.entries(gate) == [first, second]
    assert audit.last(unique("gate")) is None


def test_two_detections_racing_on_one_passage_lose_no_update(stack_client) -> None:  # type: ignore[no-untyped-def]
    # Given a booked truck at a lane, and the real DynamoDB store (in the emulator)
    lane = "out-59"
    w = World(bookings=InMemoryBookings())
    c = consignment(unique("C"), plate="24C-595.95")
    w.book(c, bid=unique("BK"))
    deps = CrossingDeps(**{**w.deps.__dict__, "store": stack_client.passages})
    at = T0 + timedelta(seconds=uuid.uuid4().int % 10_000)
    detections = [
        plate("24C-595.95", at, lane=lane),
        container("MSKU6011672", at, lane=lane),
        weight(35_400, at, lane=lane),
    ]
    # When their three detections are ingested at the same moment, from three threads
    errors = race(lambda d: ingest_detection(d, deps), detections)
    # Then one passage holds all three, decided once, and no write was lost
    assert not errors
    track = stack_client.passages.lane("sandbox", lane)
    mine = [stack_client.passages.get(r.passage_id) for r in track.recent]
    mine = [p for p in mine if p is not None and p.plate_text == "24C-595.95" and p.first_seen == at]
    assert len(mine) == 1
    passage = mine[0]
    assert passage.detections.event_ids() == {d.event_id for d in detections}
    assert passage.channel == Channel.GREEN and len(w.commands.sent) == 1, (
        passage.decision.reason() if passage.decision else passage.status
    )


def test_an_exchanged_message_is_handled_once_and_not_lost_by_a_handler_that_dies(stack_client) -> None:  # type: ignore[no-untyped-def]
    # Given the exchange table (in the emulator) and a partner message never seen
    store = DynamoExchange(stack_client.name("ExchangeTable"), stack_client.template.region, timedelta(days=1))
    message = example_message(VEHICLE_CLEARED.model_copy(update={"event_id": unique("hekou-vc")}))
    now = utc_now()  # the lease is judged against the time each claim gives
    # When one handler claims it, a second delivery meanwhile is told to come back later
    assert store.claim("in", message, now) is Claim.NEW
    assert store.claim("in", message, now + LEASE / 2) is Claim.BUSY
    # Then once handled, every later delivery is a redelivery
    store.done("in", message)
    assert store.claim("in", message, now + 10 * LEASE) is Claim.DONE
    # And a handler that dies holding a message gives it up only after the lease
    other = example_message(VEHICLE_CLEARED.model_copy(update={"event_id": unique("hekou-vc")}))
    assert store.claim("in", other, now) is Claim.NEW  # ... and it dies here, neither done nor forgotten
    assert store.claim("in", other, now + LEASE - timedelta(seconds=1)) is Claim.BUSY
    assert store.claim("in", other, now + LEASE + timedelta(seconds=1)) is Claim.NEW  # taken over
    store.forget("in", other)  # that handler failed cleanly: the next delivery handles it
    assert store.claim("in", other, now + LEASE + timedelta(seconds=2)) is Claim.NEW
    # And "in" and "out" are apart: the same message id sent by us is another row
    assert store.claim("out", message, now) is Claim.NEW
