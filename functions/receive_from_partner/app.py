"""The partner gate -> us: its signed messages from our inbound bus, checked, kept once, and mapped.

Each message is opened (smartgate.partner: the envelope, the JWS against the partner's published public
keys, the recipient and sender, the event's schema and version); anything refused goes to the partner
dead-letter queue with its reason code and changes nothing. An accepted message is kept once in the
exchange table by (sender, event id) — a duplicate changes nothing — then: the partner's clearance, hold,
refusal or departure goes on our booking's timeline (its reference is our booking id; the trader follows
it), and its published acceptance capacity becomes the partner's capacity of our window (bookings beyond
it move on to the next free windows, their traders told).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import partner, wiring
from smartgate.adapters.partner import Claim, InFlight
from smartgate.config import settings
from smartgate.domain.exchange import capacity_change, timeline_note
from smartgate.domain.gates import default_gates
from smartgate.domain.slots import TradeError
from smartgate.domain.trading import set_capacity
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import PartnerExchangeAlarm, RejectedMessage, utc_now
from smartgate.schemas.api import TimelineEntry
from smartgate.schemas.partner import CapacityPublished, CrossBorderMessage, PartnerEvent, VehicleCleared

ALARM_AFTER = 5  # refusals in one window that are still "a bad message now and then"
ALARM_MINUTES = 10


def _refuse(event: dict[str, Any], code: str, detail: str) -> dict[str, Any]:
    raw = event.get("detail")
    replay = event.get("replay-name")  # EventBridge marks what an archive replay puts back on the bus
    wiring.partner_dead_letters().put(
        RejectedMessage(
            source=f"partner:{event.get('source', '?')}:{event.get('detail-type', '?')}",
            reason=(f"{code}: {detail}" + (f" (again, in replay {replay})" if replay else ""))[:1000],
            payload=(raw if isinstance(raw, str) else json.dumps(raw, default=str))[:200_000],
            received_at=utc_now(),
        ),
        code,
    )
    metrics.add_metric(name="PartnerMessagesRefused", unit="Count", value=1)
    logger.warning(
        "partner message refused", reason_code=code, detail=detail[:300], source=event.get("source"), replay=replay
    )
    if not replay:  # a replay refuses again what was refused (and alarmed on) when it first came
        _watch_refusals(event, f"{code}: {detail}")
    return {"accepted": False, "reason_code": code}


def _watch_refusals(event: dict[str, Any], reason: str) -> None:
    """More than ALARM_AFTER refusals in a window of ALARM_MINUTES: one alarm for that window (officers)."""
    detail = event.get("detail")
    sender = str(detail.get("from_gate", "?")) if isinstance(detail, dict) else "?"
    ours = partner.default_agreements(settings().stage).partner_of(sender) or "unknown"
    now = utc_now()
    window = int(now.timestamp() // (ALARM_MINUTES * 60))
    limits, ttl = wiring.limits(), timedelta(minutes=2 * ALARM_MINUTES)
    if limits.take(f"partner-refused#{ours}#{window}", ALARM_AFTER, ttl):
        return  # within the normal rate
    if not limits.take(f"partner-alarm#{ours}#{window}", 1, ttl):
        return  # this window's alarm went already
    alarm = PartnerExchangeAlarm(
        event_id=f"partner-alarm-{ours}-{window}",
        gate_id=ours if ours != "unknown" else "sandbox",
        partner_gate=sender[:64],
        refused=ALARM_AFTER + 1,
        minutes=ALARM_MINUTES,
        last_reason=reason[:500],
        at=now,
    )
    wiring.event_publisher().publish([alarm])
    logger.warning("partner messages refused at an abnormal rate", partner=sender, gate=ours)


def _apply(event: PartnerEvent, ours: str) -> str:
    if isinstance(event, CapacityPublished):
        start, capacity = capacity_change(event)
        windows, moved = set_capacity(wiring.trade_deps(), ours, event.direction, [(start, None, capacity)])
        return f"capacity {capacity} for {start:%Y-%m-%d %H:%M}Z ({len(moved)} booking(s) moved)"
    note = timeline_note(event, event.from_gate)
    if note is None:
        return "nothing to do"
    store = wiring.trade_store()
    if store.booked(note.booking_id) is None:
        return f"no booking {note.booking_id} here"
    entry = TimelineEntry(status=note.status, at=note.at, detail=note.detail)  # type: ignore[arg-type]
    store.add_timeline(note.booking_id, entry, f"partner-{event.from_gate}-{event.event_id}")
    if isinstance(event, VehicleCleared):
        agreement = partner.default_agreements(settings().stage).between(event.from_gate, ours)
        recognised = partner.recognised_inspection(event, agreement)  # None unless the agreement has it
        if recognised is not None:
            store.recognise(note.booking_id, recognised.value)
            return f"{note.status} on {note.booking_id}; recognised ({recognised.value})"
    return f"{note.status} on {note.booking_id}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail")
    sender = str(detail.get("from_gate", "")) if isinstance(detail, dict) else ""
    if not sender:
        return _refuse(event, "malformed", "the envelope names no from_gate")
    if sender in default_gates(settings().stage).gates:
        return _refuse(event, "wrong_sender", f"{sender!r} is one of our own gates: a partner cannot speak as it")
    ours = partner.default_agreements(settings().stage).partner_of(sender)
    if ours is None:
        return _refuse(event, "wrong_sender", f"no agreement with a gate {sender!r}")
    try:
        opened = partner.open_event(event, wiring.partner_keys(sender), ours, sender)
    except partner.PartnerMessageRefused as refused:
        return _refuse(event, refused.reason_code.value, refused.detail)
    message = CrossBorderMessage.model_validate(detail)
    store = wiring.exchange()
    claim = store.claim("in", message, utc_now())
    if claim is Claim.DONE:
        logger.info("partner message seen before", message_id=message.message_id, type=message.type)
        return {"accepted": True, "duplicate": True}
    if claim is Claim.BUSY:  # another delivery of it is being handled now: EventBridge retries this one
        raise InFlight(f"{message.message_id} is being handled by another invocation")
    try:
        done = _apply(opened, ours)
    except TradeError as err:  # e.g. a capacity for a window that is over: it cannot apply, and never will
        store.forget("in", message)
        return _refuse(event, "not_applicable", str(err))
    except Exception:
        store.forget("in", message)  # the retry applies it
        raise
    store.done("in", message)
    metrics.add_metric(name="PartnerMessagesAccepted", unit="Count", value=1)
    logger.info("partner message", type=message.type, message_id=message.message_id, from_gate=sender, done=done)
    return {"accepted": True, "done": done}
